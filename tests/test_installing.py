"""The suite's install-script runner: a failed or incomplete install is a typed error
carrying what is missing and the script's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.installing import run_install_script


class Missing(Exception):
    pass


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "install.sh"
    script.write_text(body)
    return script


def test_a_failing_script_raises_with_its_output(tmp_path: Path) -> None:
    script = _script(tmp_path, "echo fetching; echo 'no network' >&2; exit 3\n")
    with pytest.raises(Missing) as info:
        run_install_script(script, lambda: ["a tool"], Missing)
    text = str(info.value)
    assert "exit 3" in text and "still missing: a tool" in text
    assert "fetching" in text and "no network" in text


def test_a_script_that_leaves_something_out_raises(tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 0\n")
    with pytest.raises(Missing, match="still missing: x; y"):
        run_install_script(script, lambda: ["x", "y"], Missing)


def test_a_complete_install_returns(tmp_path: Path) -> None:
    marker = tmp_path / "installed"
    script = _script(tmp_path, f"touch {marker}\n")
    run_install_script(script, lambda: [] if marker.exists() else ["marker"], Missing)
    assert marker.exists()
