"""Hypothesis profiles for the whole suite, chosen by ``HYPOTHESIS_PROFILE``.

- ``ci`` (default): a few hundred examples per property — the loader fuzzing stays under a minute.
- ``long``: thousands per property, for ``benchmarks/fuzz_long.sh`` (minutes to hours).

Tests that pin their own ``@settings`` (e.g. the motion-file fuzzing) keep them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# file I/O on a shared 2-core machine: the time per example varies too much for a deadline
_RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", _RELAXED, max_examples=200)
settings.register_profile("long", _RELAXED, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
