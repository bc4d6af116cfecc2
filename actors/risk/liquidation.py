"""Kill-switch liquidation: market orders that take every position to flat, outside the normal gate.

Only an operator's kill calls this. The orders are reduce-only, sized from the filled position net
of closes already pending (so a second kill sends nothing new for an order still working), and
pending in the core like any approved order. The kill sets every symbol's target to flat, so a
flatten order that is canceled or expires is sent again, and an entry still pending is closed
once it fills. `request_ns` names the kill in its orders' ids: give each kill its own.
"""

from __future__ import annotations

from actors.risk.core import RiskCore
from cluster.foundation.domain.wire import OrderIntent


def liquidation_intents(core: RiskCore, by: str, request_ns: int | None = None) -> list[OrderIntent]:
    return core.liquidate(by, request_ns)
