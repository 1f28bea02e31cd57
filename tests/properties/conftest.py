"""Hypothesis profiles for the property tests: ``ci`` (default, bounded, repeatable) and ``dev``.

Pick one with ``HYPOTHESIS_PROFILE=dev`` to search longer and with fresh randomness.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples every run: a red CI is a real regression, not luck
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
