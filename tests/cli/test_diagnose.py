"""``exotel-voice diagnose`` processes against the suite's Kamailio and coturn.

A real WebSocket, a real REGISTER (removed again before the exit), real ICE gathering.
aioice gathers no host candidate from loopback, so a server-reflexive candidate needs a
non-loopback IPv4 address on this machine (any container has one): the STUN server
listens on 127.0.0.1, and its answer to the host address travels the loopback route
(see tests/media/test_probes.py).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioice.ice import get_host_addresses

from exotel_voice.cli.app import main
from tests.cli.processes import COMMAND, Finished, environment, run
from tests.kamailio.server import KamailioServer
from tests.media.servers import TurnServer, turn

__all__ = ["turn"]  # the fixture, imported for pytest

USER = "dave"  # no other CLI test registers dave
REPORT_LINE = "] [INFO] TROUBLESHOOTER_FSM_REPORT: "


def closed_port() -> int:
    """A loopback TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_stun() -> Iterator[str]:
    """A STUN URL whose UDP port is bound and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"stun:127.0.0.1:{sock.getsockname()[1]}"


def ipv4_hosts() -> list[str]:
    hosts = list(get_host_addresses(use_ipv4=True, use_ipv6=False))
    if not hosts:
        pytest.fail(
            "this machine has no non-loopback IPv4 address, so aioice gathers no host "
            "candidate to ask the STUN server from; give it one (any container network does)",
            pytrace=False,
        )
    return hosts


def account_args(kamailio: KamailioServer) -> list[str]:
    return [
        "--server",
        kamailio.wss_url,
        "--ca-file",
        str(kamailio.ca_file),
        "--user",
        USER,
        "--domain",
        kamailio.domain,
    ]


def no_audio(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PulseAudio is nowhere: no audio devices, deterministically."""
    return {"PULSE_SERVER": f"unix:{tmp_path / 'no-pulse'}", **(extra or {})}


def error_line(done: Finished) -> str:
    """The one error line (progress lines are the rest of stderr)."""
    (line,) = [line for line in done.stderr_lines if "error:" in line]
    assert line.startswith("exotel-voice"), line
    assert "Traceback" not in done.stderr
    return line


def report_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines, "the report is empty"
    assert all("] TROUBLESHOOTER_FSM_REPORT: " in line for line in lines), text
    return text


# --------------------------------------------------------------------------- it works


@pytest.mark.kamailio
def test_json_reports_a_real_websocket_registration_and_candidates(
    kamailio: KamailioServer, turn: TurnServer, tmp_path: Path
) -> None:
    hosts = ipv4_hosts()
    report = tmp_path / "diag.txt"
    inline_turn = f"turn:{turn.username}:{turn.password}@127.0.0.1:{turn.port}?transport=udp"
    done = run(
        "diagnose",
        *account_args(kamailio),
        "--stun",
        turn.stun_url,
        "--turn",
        inline_turn,
        "--report",
        str(report),
        "--json",
        env=no_audio(tmp_path, {"EXOTEL_VOICE_PASSWORD": kamailio.users[USER]}),
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)  # one document, nothing else on stdout
    results = doc["results"]
    assert doc["ok"] is True and doc["error"] is None
    assert results["wss"] == {"status": "connected", "description": kamailio.wss_url}
    assert results["userReg"] == {"status": "registered", "description": USER}
    srflx = results["srflx"]
    assert srflx["status"] == "connected"
    assert srflx["description"].startswith("candidate:") and " typ srflx " in srflx["description"]
    assert srflx["description"].split()[4] in hosts  # no NAT to the STUN server here
    relay = results["relay"]
    assert relay["status"] == "connected" and " typ relay " in relay["description"]
    assert results["host"]["status"] == "connected"
    assert results["tcp"] == {"status": "disconnected", "description": ""}  # aioice: no ICE-TCP
    # no audio server: a normal answer, not a failure
    assert results["micInfo"] == {
        "status": "no device",
        "description": "this machine has no audio input device",
    }
    assert results["speakerInfo"]["status"] == "no device"
    assert results["browserVersion"] == {"status": "ready", "description": doc["runtime"]}
    assert doc["runtime"].startswith("CPython/3.") and " exotel-voice/" in doc["runtime"]
    assert doc["unanswered"] == [] and doc["unsupported"] == []
    assert any(" typ srflx " in line for line in doc["candidates"])
    assert doc["report"] == str(report.resolve())
    assert doc["user"] == f"sip:{USER}@{kamailio.domain}"

    text = report_text(report)
    assert f"{REPORT_LINE}NETWORK EVENT =  WSS_TEST_COMPLETE connected" in text
    assert f"{REPORT_LINE}user registration: registered ({USER})" in text
    assert f"{REPORT_LINE}NETWORK EVENT =  REFLEX_CON_TEST_COMPLETE connected" in text
    assert f"{REPORT_LINE}Gathered candidate candidate:" in text
    assert "] [WARNING] TROUBLESHOOTER_FSM_REPORT: Device: audioinput, this machine" in text
    assert f"user registration: sip:{USER}@{kamailio.domain} unregistered" in text
    everything = text + done.stdout + done.stderr
    assert kamailio.users[USER] not in everything
    assert turn.password not in everything
    assert "wss: connected" in done.stderr  # progress went to stderr as it ran
    assert kamailio.contacts(USER) == []  # unregistered before the exit


@pytest.mark.kamailio
def test_human_output_without_registering_from_an_account_file(
    kamailio: KamailioServer, turn: TurnServer, tmp_path: Path
) -> None:
    ipv4_hosts()
    account_file = tmp_path / "dave.toml"
    account_file.write_text(
        f'server = "{kamailio.wss_url}"\n'
        f'user = "{USER}"\n'
        f'password = "{kamailio.users[USER]}"\n'
        f'domain = "{kamailio.domain}"\n'
        f'ca_file = "{kamailio.ca_file}"\n'
        f'ice_servers = ["{turn.stun_url}"]\n'
    )
    done = run(
        "diagnose",
        "--account-file",
        str(account_file),
        "--turn",
        turn.turn_url("tcp"),
        "--turn-user",
        turn.username,
        "--no-devices",
        "--no-register",
        env={"EXOTEL_VOICE_TURN_PASSWORD": turn.password},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "connected" in rows["wss"] and kamailio.wss_url in rows["wss"]
    assert "unregistered" in rows["userReg"] and "(not tried: --no-register)" in rows["userReg"]
    assert "connected" in rows["relay"]  # the --turn server, over TCP
    # --turn replaced the file's STUN server: no server-reflexive candidate asked for
    assert "disconnected" in rows["srflx"]
    assert "micInfo" not in rows  # --no-devices
    (summary,) = [line for line in done.stdout.splitlines() if line.startswith("OK: ")]
    assert "the server is reachable, registration not tried" in summary
    (saved,) = tmp_path.glob("exotel-voice-diagnostics-*.txt")
    assert f"report: {saved.resolve()}" in done.stdout
    assert "NETWORK EVENT =  RELAY_CON_TEST_COMPLETE connected" in report_text(saved)
    assert turn.password not in saved.read_text() + done.stdout + done.stderr
    assert done.stderr_lines and not [line for line in done.stderr_lines if "error" in line]
    assert "user registration: unregistered (dave)" in saved.read_text()
    assert kamailio.contacts(USER) == []  # never registered


# --------------------------------------------------------------------------- it fails


def test_an_unreachable_server_fails_in_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{closed_port()}/ws"
    report = tmp_path / "down.txt"
    done = run(
        "diagnose",
        "--server",
        url,
        "--user",
        USER,
        "--password",
        "pw-not-shown",
        "--no-devices",
        "--report",
        str(report),
        "--json",
        "--timeout",
        "2",
    )
    assert done.returncode == 1, done.stderr
    line = error_line(done)
    assert f"the WebSocket to {url} could not be opened: " in line
    assert "Connection refused" in line
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and doc["error"] in line
    assert doc["results"]["wss"] == {"status": "disconnected", "description": url}
    assert doc["results"]["userReg"]["status"] == "unregistered"
    text = report_text(report)
    assert "NETWORK EVENT =  WSS_TEST_COMPLETE disconnected" in text
    assert "pw-not-shown" not in text + done.stdout + done.stderr


@pytest.mark.kamailio
def test_a_wrong_password_fails_saying_the_registration_failed(
    kamailio: KamailioServer, tmp_path: Path
) -> None:
    done = run(
        "diagnose",
        *account_args(kamailio),
        "--no-devices",
        "--report",
        str(tmp_path),  # a folder: the report's own name in it
        env={"EXOTEL_VOICE_PASSWORD": "not-it"},
    )
    assert done.returncode == 1, done.stderr
    line = error_line(done)
    assert f"sip:{USER}@{kamailio.domain}: registration failed: 401" in line
    assert "wrong user or password?" in line
    (summary,) = [row for row in done.stdout.splitlines() if row.startswith("FAILED: ")]
    assert "registration failed: 401" in summary
    (saved,) = tmp_path.glob("troubleshooting_report_*.txt")
    text = report_text(saved)
    assert "NETWORK EVENT =  WSS_TEST_COMPLETE connected" in text  # the server was fine
    assert "] [WARNING] TROUBLESHOOTER_FSM_REPORT: user registration failed: " in text
    assert "not-it" not in text + done.stdout + done.stderr
    assert kamailio.contacts(USER) == []


ANY_ACCOUNT = ["--server", "ws://127.0.0.1:9/ws", "--user", USER, "--password", "pw"]
BAD_ARGUMENTS: dict[str, tuple[list[str], str]] = {
    # name: (arguments, what the one line says)
    "no password": (["--server", "ws://127.0.0.1:9/ws", "--user", USER], "missing password"),
    "bad server": (
        ["--server", "http://example.test/", "--user", USER, "--password", "pw"],
        "'http://example.test/' is not a ws:// or wss:// URL",
    ),
    "bad stun": (
        [*ANY_ACCOUNT, "--stun", "http://stun.example.test"],
        "--stun: 'http://stun.example.test' is not a stun:host[:port]",
    ),
    "turn without a password": (
        [*ANY_ACCOUNT, "--turn", "turn:turn.example.test"],
        "--turn: turn:turn.example.test needs a user and password",
    ),
    "turn password not shown": (
        [*ANY_ACCOUNT, "--turn", "turn:u:hidden-pw@turn.example.test:99999"],
        "--turn: turn:turn.example.test:99999 has a bad port number",
    ),
    "bad timeout": ([*ANY_ACCOUNT, "--timeout", "0"], "Invalid value for '--timeout'"),
    "report folder missing": (
        [*ANY_ACCOUNT, "--report", "/no/such/folder/report.txt"],
        "--report: the folder '/no/such/folder' does not exist",
    ),
}


def test_bad_arguments_exit_2_with_one_line_from_a_process(tmp_path: Path) -> None:
    args, message = BAD_ARGUMENTS["turn password not shown"]
    done = run("diagnose", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in error_line(done)
    assert len(done.stderr_lines) == 1 and done.stdout == ""
    assert "hidden-pw" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran, so no report was written


@pytest.fixture
def quiet_logging() -> Iterator[None]:
    """``main()`` configures the root logger as a CLI process would: restore it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
@pytest.mark.usefixtures("quiet_logging")
def test_bad_arguments_exit_2_with_one_line(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process (each fails before anything runs): a process each costs seconds.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXOTEL_VOICE_PASSWORD", raising=False)
    args, message = BAD_ARGUMENTS[case]
    assert main(["diagnose", *args]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("exotel-voice") and "error: " in lines[0]
    assert message in lines[0]
    assert "hidden-pw" not in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- interrupted


@pytest.mark.kamailio
def test_ctrl_c_while_gathering_still_unregisters_and_saves_the_report(
    kamailio: KamailioServer, silent_stun: str, tmp_path: Path
) -> None:
    report = tmp_path / "interrupted.txt"
    process = subprocess.Popen(
        [
            *COMMAND,
            "diagnose",
            *account_args(kamailio),
            "--no-devices",
            "--stun",
            silent_stun,  # never answers: gathering waits out --ice-timeout
            "--ice-timeout",
            "60",
            "--report",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment({"EXOTEL_VOICE_PASSWORD": kamailio.users[USER]}),
    )
    stderr: list[str] = []
    gathering = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr.append(line)
            if line.startswith("userReg: registered"):
                gathering.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert gathering.wait(30), "".join(stderr)
        assert kamailio.contacts(USER) != []  # registered while it gathers
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(30)  # (stdout is small: it fits in the pipe until read below)
        reader.join(10)
        assert process.stdout is not None
        stdout = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 130, "".join(stderr)
    assert time.monotonic() - started < 15  # the 60 s gathering was cut short
    assert "INTERRUPTED (SIGINT)" in stdout
    # what was found before the signal is still shown
    rows = {row.split("│")[1].strip(): row for row in stdout.splitlines() if "│" in row}
    assert "connected" in rows["wss"] and "registered" in rows["userReg"]
    assert "srflx" not in rows  # the gathering did not finish
    ours = [line for line in stderr if line.startswith("exotel-voice")]
    assert len(ours) == 1 and ours[0].endswith("error: interrupted (SIGINT)\n"), stderr
    assert kamailio.contacts(USER) == []  # the first Ctrl-C still unregistered
    text = report_text(report)
    assert "diagnostics interrupted (SIGINT)" in text
    assert f"user registration: sip:{USER}@{kamailio.domain} unregistered" in text
    # probe_ice, cancelled mid-gathering, must leave no unretrieved task error behind
    # (asyncio logs those to stderr).
    stray = [line for line in stderr if "error" in line and not line.startswith("exotel-voice")]
    assert stray == []
