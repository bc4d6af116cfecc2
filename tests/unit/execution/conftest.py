"""Fixtures over the shipped market data; the loaders live in execution_data.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from execution_data import quotes as _quotes
from execution_data import trade_bars as _trade_bars

from cluster.foundation.domain.wire import Bar, Quote


@pytest.fixture
def trade_bars() -> Callable[[str, str, str], list[Bar]]:
    """trade_bars(symbol, first_iso, last_iso): the shipped minute bars of that window, in order."""
    return _trade_bars


@pytest.fixture
def quotes() -> Callable[[str, str, str], list[Quote]]:
    """quotes(symbol, first_iso, last_iso): end-of-minute quotes from the shipped quote bars."""
    return _quotes
