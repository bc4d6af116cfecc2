"""Hypothesis settings of the trust-boundary property tests.

The default run takes FUZZ_EXAMPLES_DEFAULT examples per property; `HYPOTHESIS_PROFILE=slow`
takes FUZZ_EXAMPLES_SLOW (the fuzzing run: HYPOTHESIS_PROFILE=slow pytest tests/security tests/api).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES_DEFAULT = 200
FUZZ_EXAMPLES_SLOW = 5000

settings.register_profile(
    "fuzz",
    max_examples=FUZZ_EXAMPLES_SLOW if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else FUZZ_EXAMPLES_DEFAULT,
    deadline=None,  # a hang is caught by pytest-timeout, not by a per-example clock
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
