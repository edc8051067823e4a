"""The fuzz tier: hypothesis over documents, configs, manuals, the stdio wire, REST and MCP bodies.

CI runs a bounded number of examples per test (profile ``ci``); ``make fuzz`` runs the
long profile (``UCP_FUZZ_PROFILE=long``). The property everywhere: bad input ends in UCP's
own error (or a 4xx), never an unexpected exception, a 5xx or a hang.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("UCP_FUZZ_PROFILE", "ci"))
