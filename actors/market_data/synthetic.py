"""Deterministic random-walk market data for load tests (never for strategy results).

Symbols SYN0000.. each walk in log price. Events are spread evenly in time so the stream
carries `events_per_s` for `seconds`; symbols take turns, and each symbol alternates a Quote
(the quote in force) with a Bar summarising the walk since its previous event.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from cluster.foundation.domain.wire import Bar, Quote

# 2024-01-02T14:30:00Z, a US market open: a fixed default keeps runs reproducible.
DEFAULT_START_NS: Final = 1_704_205_800 * 1_000_000_000
_TICK: Final = 0.01


def synthetic_symbol(index: int) -> str:
    return f"SYN{index:04d}"


@dataclass(eq=False)
class SyntheticSource:
    """Iterable of Bars and Quotes in (ts_ns, kind, symbol) order; every iteration is identical."""

    n_symbols: int
    events_per_s: float
    seconds: float
    seed: int
    start_ns: int = DEFAULT_START_NS
    volatility_per_event: float = 0.0005
    n_events: int = field(init=False)
    symbols: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.n_symbols <= 10_000:
            raise ValueError(f"n_symbols must be in 1..10000, got {self.n_symbols}")
        if not 0 < self.events_per_s <= 1e9:
            raise ValueError(f"events_per_s must be in (0, 1e9], got {self.events_per_s}")
        if not self.seconds > 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds}")
        self.n_events = round(self.events_per_s * self.seconds)
        self.symbols = [synthetic_symbol(i) for i in range(self.n_symbols)]

    def __len__(self) -> int:
        return self.n_events

    def __iter__(self) -> Iterator[Bar | Quote]:
        rng = random.Random(self.seed)
        prices = [round(rng.uniform(20.0, 500.0), 2) for _ in range(self.n_symbols)]
        event_counts = [0] * self.n_symbols
        spacing_ns = 1e9 / self.events_per_s
        sigma = self.volatility_per_event
        for i in range(self.n_events):
            ts_ns = self.start_ns + int(i * spacing_ns)
            index = i % self.n_symbols
            symbol = self.symbols[index]
            before = prices[index]
            after = max(_TICK, round(before * math.exp(rng.gauss(0.0, sigma)), 2))
            prices[index] = after
            count = event_counts[index]
            event_counts[index] = count + 1
            if count % 2 == 0:
                half_spread = _TICK * rng.randint(1, 3)
                bid = round(max(_TICK, after - half_spread), 2)
                yield Quote(
                    symbol, ts_ns, bid, float(rng.randint(1, 50) * 100), round(after + half_spread, 2),
                    float(rng.randint(1, 50) * 100),
                )
            else:
                wiggle = abs(rng.gauss(0.0, sigma)) * after
                high = round(max(before, after) + wiggle, 2)
                low = round(max(_TICK, min(before, after) - wiggle), 2)
                yield Bar(symbol, ts_ns, before, high, low, after, float(rng.randint(1, 200) * 100))
