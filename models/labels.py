"""Labels: did the close rise over the next `horizon` bars?

Binary up / not-up, on purpose: the model's probability p of "up" maps straight onto the score
2p - 1 in [-1, 1] that SignalCore expects (long above the dead band, short or flat below), and
AUC is well defined for it. A row is "up" when the forward LOG return ln(c[t+h] / c[t]) is
strictly above `threshold` (0 by default: any rise; a positive threshold asks the rise to beat
costs). The label at t reads only closes t+1..t+h; the last `horizon` rows have none (NaN) and
are dropped by the dataset, which counts them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def forward_log_return(close: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
    """ln(c[t+h] / c[t]) per row; NaN for the last `horizon` rows, whose window passes the end."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    close = np.asarray(close, dtype=np.float64)
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] > horizon:
        out[:-horizon] = np.log(close[horizon:] / close[:-horizon])
    return out


def up_labels(forward_return: NDArray[np.float64], threshold: float = 0.0) -> NDArray[np.float64]:
    """1.0 where the forward return is above `threshold`, 0.0 where not, NaN where it is unknown."""
    forward_return = np.asarray(forward_return, dtype=np.float64)
    labels = (forward_return > threshold).astype(np.float64)
    labels[np.isnan(forward_return)] = np.nan
    return labels
