"""The promotion gate's metric: what training reports and what the registry compares.

Its own module so that training (which registers candidates) and the registry (which promotes them)
share the name without importing each other.
"""

from __future__ import annotations

from typing import Final

GATE_METRIC: Final = "mean_test_auc"  # the mean walk-forward TEST AUC over folds
