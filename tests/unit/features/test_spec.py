"""spec_hash identifies the feature definitions a model was trained on."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from models.features import spec
from models.features.spec import FEATURE_NAMES, PARAMS, FeatureParams, spec_hash

REPO = Path(__file__).resolve().parents[3]


def test_spec_hash_when_computed_in_a_fresh_interpreter_then_identical() -> None:
    # Arrange / Act: a new process has a different str-hash seed, so any reliance on hash() shows
    code = "from models.features.spec import spec_hash; print(spec_hash())"
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)},
    ).stdout.strip()
    # Assert
    assert other == spec_hash()
    assert len(other) == 16 and int(other, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"rsi_length": 21}, {"macd_fast": 10}, {"macd_slow": 30}, {"macd_signal": 7}, {"bb_length": 30},
        {"bb_std": 2.5}, {"return_lags": (1, 5, 30)}, {"volatility_window": 30}, {"volume_window": 60},
    ],
)
def test_spec_hash_when_any_parameter_changes_then_differs(change: dict[str, object]) -> None:
    assert spec_hash(dataclasses.replace(PARAMS, **change)) != spec_hash()  # type: ignore[arg-type]


def test_spec_hash_when_feature_order_changes_then_differs() -> None:
    swapped = (FEATURE_NAMES[1], FEATURE_NAMES[0], *FEATURE_NAMES[2:])
    assert spec_hash(PARAMS, swapped) != spec_hash()


def test_spec_hash_when_version_changes_then_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    original = spec_hash()
    monkeypatch.setattr(spec, "SPEC_VERSION", "features-2")
    assert spec_hash() != original


def test_spec_hash_when_params_equal_but_distinct_objects_then_equal() -> None:
    assert spec_hash(FeatureParams()) == spec_hash(PARAMS)


def test_warmup_when_default_params_then_macd_signal_is_the_longest_chain() -> None:
    # slow EMA (26) defines the line at bar 26; the signal EMA needs 9 line values: 26 + 9 - 1
    assert spec.WARMUP_BARS == 34
    assert dataclasses.replace(PARAMS, bb_length=50).warmup_bars() == 50
