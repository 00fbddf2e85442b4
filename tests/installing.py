"""Running the project's install scripts (scripts/install-*.sh) from the test suite."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_install_script"]


def run_install_script(
    script: Path, missing_pieces: Callable[[], list[str]], error: Callable[[str], Exception]
) -> None:
    """Run ``script`` (the project's own, idempotent) and check it left nothing missing.

    Raises:
        Exception: ``error(text)``, the text naming what is still missing and the end
            of the script's output, when it fails or leaves something out.
    """
    result = subprocess.run(
        ["bash", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    still_missing = missing_pieces()
    if result.returncode != 0 or still_missing:
        raise error(
            f"{script} failed (exit {result.returncode}; still missing: "
            f"{'; '.join(still_missing) or 'nothing'})\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
