"""A thread-safe hand-over of a new model from a control call to the loop thread.

The loop thread owns the SignalCore and the sockets; a control call (another thread) must never
touch them. It offers the model here and waits; the loop applies the offer between two batches
(never while a batch is half fed), so no tick is dropped or reordered, and reports back. A later
offer supersedes one not yet applied; an offer that times out is withdrawn, so a model is never
switched after its caller was told it failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cluster.foundation.domain.errors import TemporaryError
from models.protocol import Model


@dataclass
class ModelOffer:
    model: Model
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    applied: bool = False


class ModelSlot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: ModelOffer | None = None

    def offer(self, model: Model) -> ModelOffer:
        offer = ModelOffer(model)
        with self._lock:
            earlier, self._pending = self._pending, offer
        if earlier is not None:
            earlier.error = f"superseded by model {model.version}"
            earlier.done.set()
        return offer

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._pending is not None

    def apply_pending(self, apply: Callable[[Model], None]) -> ModelOffer | None:
        """Loop thread, between batches: apply the waiting offer, if any, and report the outcome."""
        with self._lock:
            offer, self._pending = self._pending, None
        if offer is None:
            return None
        try:
            apply(offer.model)
            offer.applied = True
        except (ValueError, TypeError) as exc:
            offer.error = f"model {offer.model.version} refused: {exc}"
        offer.done.set()
        return offer

    def wait(self, offer: ModelOffer, timeout_s: float) -> str:
        """The applied version; ValueError if refused, TemporaryError (offer withdrawn) on timeout."""
        if not offer.done.wait(timeout_s):
            with self._lock:
                if self._pending is offer:
                    self._pending = None
                    raise TemporaryError(f"model {offer.model.version} not applied within {timeout_s:.1f} s "
                                         "(is the signal loop running?); the current model stays")
            offer.done.wait()  # the loop took it just now: its outcome is imminent
        if offer.error is not None:
            raise ValueError(offer.error)
        return offer.model.version
