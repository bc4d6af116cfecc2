"""execution actor and its pure core."""
