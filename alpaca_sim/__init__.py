"""An Alpaca-compatible broker and market-data simulator driven by the shipped real data."""

from alpaca_sim.config import SimConfig
from alpaca_sim.server import create_app

__all__ = ["SimConfig", "create_app"]
