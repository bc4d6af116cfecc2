"""market data actor and its pure core."""
