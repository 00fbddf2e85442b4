"""What code a benchmark measured: the commit, and the package files that differed from it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "source_state"]

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (the working directory of what the benchmarks start)."""


def source_state() -> dict[str, Any]:
    """The commit measured, and which files of the packages differed from it."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
            ).stdout
        except OSError:
            return ""

    # Porcelain lines are "XY path": the status letters, a space, then the path.
    changed = git("status", "--porcelain", "--", "packages")
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "changed_in_packages": [line[3:] for line in changed.splitlines() if line],
    }
