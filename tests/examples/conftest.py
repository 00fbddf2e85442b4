"""The examples' tests: the test process runs asyncio; the examples pick their own loop."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
