"""signal actor and its pure core."""
