"""Test packages; a package here keeps tests/alpaca from shadowing the alpaca-py client package."""
