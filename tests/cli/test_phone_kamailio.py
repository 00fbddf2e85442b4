"""``exotel-voice phone`` processes on the suite's Kamailio: calls, recordings, DTMF, signals."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from sipmedia import tone_ratio
from tests.cli.audio import read_audio
from tests.cli.processes import Running, run
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]

CALLER, CALLEE = "erin", "frank"


def account_args(kamailio: KamailioServer, user: str) -> list[str]:
    return [
        "--server",
        kamailio.wss_url,
        "--ca-file",
        str(kamailio.ca_file),
        "--user",
        user,
        "--domain",
        kamailio.domain,
    ]


def password_env(kamailio: KamailioServer, user: str) -> dict[str, str]:
    return {"EXOTEL_VOICE_PASSWORD": kamailio.users[user]}


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_two_phone_processes_call_each_other_with_tones_dtmf_and_recordings(
    kamailio: KamailioServer, tmp_path: Path
) -> None:
    account_file = tmp_path / "frank.toml"
    account_file.write_text(
        f'server = "{kamailio.wss_url}"\n'
        f'user = "{CALLEE}"\n'
        f'password = "{kamailio.users[CALLEE]}"\n'
        f'domain = "{kamailio.domain}"\n'
        f'ca_file = "{kamailio.ca_file}"\n'
    )
    callee_recording, caller_recording = tmp_path / "frank.wav", tmp_path / "erin.wav"
    callee = Running(
        "phone",
        "--account-file",
        str(account_file),
        "--auto-answer",
        "--once",
        "--play",
        "tone:1500",
        "--record",
        str(callee_recording),
        "--dtmf",
        "42",
        "--json",
    )
    try:
        callee.wait_for_event("registered")
        caller = run(
            "phone",
            *account_args(kamailio, CALLER),
            "--call",
            CALLEE,
            "--play",
            "tone:600",
            "--record",
            str(caller_recording),
            "--dtmf",
            "159#",
            "--duration",
            "4",
            "--json",
            env=password_env(kamailio, CALLER),
        )
        done = callee.finish(timeout=30)
    finally:
        callee.kill()

    assert caller.returncode == 0, caller.stderr
    assert done.returncode == 0, done.stderr
    caller_events, callee_events = caller.events(), done.events()
    for events in (caller_events, callee_events):
        assert [e["event"] for e in events][-1] == "unregistered"
        (answered,) = named(events, "answered")
        (ended,) = named(events, "ended")
        (stats,) = named(events, "call_stats")
        assert answered["call_id"] == ended["call_id"] == stats["call_id"]
        assert stats["packets_received"] > 50 and stats["mos"] >= 3.0
        assert "Traceback" not in caller.stderr + done.stderr
    assert "".join(e["digit"] for e in named(callee_events, "dtmf_received")) == "159#"
    assert "".join(e["digit"] for e in named(caller_events, "dtmf_received")) == "42"
    assert named(caller_events, "dtmf_sent")[0]["digits"] == "159#"
    assert named(caller_events, "ended")[0]["cause"] == "local hangup"
    assert named(callee_events, "ended")[0]["cause"] == "remote hangup"
    assert named(callee_events, "incoming_call")[0]["from"] == kamailio.aor(CALLER)
    assert 3.5 < named(caller_events, "ended")[0]["duration_s"] < 6

    # Each recording holds the other side's tone (its last second: DTMF is long over).
    heard_by_caller = read_audio(caller_recording)
    heard_by_callee = read_audio(callee_recording)
    assert heard_by_caller.size > 48_000 and heard_by_callee.size > 48_000
    assert tone_ratio(heard_by_caller[-48_000:], 1500) > 0.8
    assert tone_ratio(heard_by_callee[-48_000:], 600) > 0.8


def test_sigterm_unregisters_and_exits_0(kamailio: KamailioServer) -> None:
    phone = Running(
        "phone", *account_args(kamailio, CALLEE), "--json", env=password_env(kamailio, CALLEE)
    )
    try:
        phone.wait_for_event("registered")
        assert kamailio.contacts(CALLEE)
        phone.process.send_signal(signal.SIGTERM)
        done = phone.finish(timeout=20)
    finally:
        phone.kill()

    assert done.returncode == 0, done.stderr
    assert [e["event"] for e in done.events()][-3:] == ["stopping", "register_sent", "unregistered"]
    assert done.events()[-3]["signal"] == "SIGTERM"
    assert kamailio.contacts(CALLEE) == []
    assert "Traceback" not in done.stderr


def test_wrong_password_is_one_line_and_exit_1(kamailio: KamailioServer) -> None:
    done = run("phone", *account_args(kamailio, CALLEE), env={"EXOTEL_VOICE_PASSWORD": "not-it"})

    assert done.returncode == 1
    (error,) = [line for line in done.stderr_lines if "error" in line]
    assert error.startswith("exotel-voice phone: error: ")
    assert "wrong user or password" in error
    assert "not-it" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
