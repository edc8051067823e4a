"""Shared test configuration: async tests run on anyio's asyncio backend only
(the utcp package uses asyncio directly)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
