"""``exotel-voice demo`` exits 1 and names the check when one fails.

The failure is real: alice's password is changed on its way to her Phone, so the
embedded server refuses her registration (401) and the vital check
"alice registers" fails; the demo stops there. Everything else is the command as run
by a user (``main()`` in this process, so the one changed password can be injected).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator

import pytest

from exotel_voice.account import Account
from exotel_voice.cli.app import main
from exotel_voice.cli.demo import Demo
from exotel_voice.cli.errors import EXIT_FAILED
from sipadapters.server import LocalServerRunner


@pytest.fixture
def alice_has_a_wrong_password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Also restores the root logger, which ``main()`` sets up as a CLI process would."""
    build = Demo._account

    def account(demo: Demo, server: LocalServerRunner, user: str, password: str) -> Account:
        made = build(demo, server, user, password)
        return dataclasses.replace(made, password="not-" + password) if user == "alice" else made

    monkeypatch.setattr(Demo, "_account", account)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("alice_has_a_wrong_password")
def test_a_failed_check_exits_1_and_is_named_in_the_json_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--json", "--no-plot"]) == EXIT_FAILED

    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False and report["checks_failed"] == 1
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["alice registers"]
    assert failed[0]["detail"] == "registration failed: 401 Unauthorized"
    assert [c["name"] for c in report["checks"] if c["ok"]] == ["start the embedded SIP server"]
    assert "FAIL  alice registers: registration failed: 401 Unauthorized" in err  # live
    assert "Traceback" not in err


@pytest.mark.usefixtures("alice_has_a_wrong_password")
def test_a_failed_check_exits_1_and_the_verdict_names_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--no-plot"]) == EXIT_FAILED

    out, err = capsys.readouterr()
    assert "demo FAILED: 1 of 2 checks failed (alice registers)" in out
    assert "registration failed: 401 Unauthorized" in out  # the checks table
    assert "demo passed" not in out
    assert "Traceback" not in err
