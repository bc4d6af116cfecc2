"""risk actor and its pure core."""
