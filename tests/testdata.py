"""Where the shared test data lives (RFC 4475/5118 torture messages, digest vectors, SDPs).

Developers and CI have it beside the repository as ``../shared/testdata``; a clone
elsewhere can point ``SIPCORE_TESTDATA`` at it. A missing directory fails the tests
that need it (``require`` raises), it never skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TESTDATA", "require"]

_REPO = Path(__file__).resolve().parents[1]


def _find() -> Path:
    candidates = [
        Path(os.environ["SIPCORE_TESTDATA"]) if "SIPCORE_TESTDATA" in os.environ else None,
        _REPO.parent / "shared" / "testdata",
        Path("/work/shared/testdata"),
    ]
    for path in candidates:
        if path is not None and (path / "README.md").is_file():
            return path
    return _REPO.parent / "shared" / "testdata"


TESTDATA = _find()
"""The test data directory (may not exist: see ``require``)."""


def require(*parts: str) -> Path:
    """A path inside the test data, which must exist.

    Raises:
        FileNotFoundError: naming where it was looked for.
    """
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"shared test data not found at {path}; put ../shared beside the repository "
            "or set SIPCORE_TESTDATA"
        )
    return path
