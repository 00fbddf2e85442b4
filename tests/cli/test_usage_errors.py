"""Bad arguments: one clear line on stderr, a non-zero exit, never a traceback.

The main cases run as real processes, started together (a module fixture) since each
spends most of its time importing; the finer validation runs ``main()`` in this process.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from exotel_voice.cli.app import main
from tests.cli.processes import COMMAND, Finished, environment

ACCOUNT = ["--server", "ws://127.0.0.1:5060/", "--user", "bob", "--domain", "example.test"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CASES: dict[str, tuple[list[str], int, str]] = {
    # name: (arguments, exit status, what the one line must say)
    "unknown option": (["phone", "--bogus"], 2, "No such option: --bogus"),
    "unknown command": (["dial"], 2, "No such command 'dial'"),
    "bad url": (
        ["phone", "--server", "http://example.test/", "--user", "bob", "--password", "pw"],
        2,
        "'http://example.test/' is not a ws:// or wss:// URL",
    ),
    "missing password": (["phone", *ACCOUNT], 2, "missing password"),
    "bad tone": (["phone", *ACCOUNT, "--password", "pw", "--play", "tone:abc"], 2, "tone:abc"),
    "server down": (
        [
            "phone",
            "--server",
            f"ws://127.0.0.1:{closed_port()}/",
            "--user",
            "bob",
            "--password",
            "pw",
        ],
        1,
        "Connection refused",
    ),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Finished]]:
    cwd: Path = tmp_path_factory.mktemp("usage")
    started = {
        name: subprocess.Popen(
            [*COMMAND, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment(),
            cwd=cwd,
        )
        for name, (args, _, _) in CASES.items()
    }
    results = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=120)
            results[name] = Finished(process.returncode, stdout, stderr, 0.0)
        yield results
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_arguments_give_one_line_and_a_nonzero_exit(
    case: str, finished: dict[str, Finished]
) -> None:
    _, status, message = CASES[case]
    done = finished[case]
    errors = [line for line in done.stderr_lines if "error" in line]
    assert done.returncode == status, done.stderr
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("exotel-voice")
    assert message in errors[0]
    assert "Traceback" not in done.stderr
    # Progress lines aside (connecting...), the error is all stderr says.
    assert all(line.startswith(("connecting", "exotel-voice")) for line in done.stderr_lines)


IN_PROCESS: dict[str, tuple[list[str], int, str]] = {
    "missing play file": (
        ["phone", *ACCOUNT, "--password", "pw", "--play", "/nonexistent/prompt.wav"],
        2,
        "neither tone:FREQ, silence, echo nor an existing audio file",
    ),
    "bad dtmf": (["phone", *ACCOUNT, "--password", "pw", "--dtmf", "12x"], 2, "non-DTMF"),
    "bad record suffix": (
        ["phone", *ACCOUNT, "--password", "pw", "--record", "call.txt"],
        2,
        "record to a file ending in .wav",
    ),
    "bad duration": (["phone", *ACCOUNT, "--password", "pw", "--duration", "0"], 2, "positive"),
    "call-api without credentials": (
        ["call-api", "--from", "a", "--to", "b", "--caller-id", "c"],
        2,
        "Missing option '--api-key'",
    ),
    "demo plot folder missing": (
        ["demo", "--plot", "/nonexistent/folder/plot.png"],
        2,
        "does not exist",
    ),
    "dtmf mode": (["phone", *ACCOUNT, "--password", "pw", "--dtmf-mode", "x"], 2, "'x'"),
    "tone out of range": (
        ["phone", *ACCOUNT, "--password", "pw", "--play", "tone:5"],
        2,
        "20-24000",
    ),
    "ca file and insecure": (
        [
            "phone",
            "--server",
            "wss://127.0.0.1:1/",
            "--user",
            "b",
            "--password",
            "p",
            "--insecure",
            "--ca-file",
            __file__,
        ],
        2,
        "not both",
    ),
    "account file missing": (
        ["phone", "--account-file", "/nonexistent/account.toml"],
        2,
        "cannot read the account file",
    ),
}


@pytest.fixture
def quiet_logging() -> Iterator[None]:
    """``main()`` configures the root logger as a CLI process would: restore it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("case", list(IN_PROCESS))
@pytest.mark.usefixtures("quiet_logging")
def test_finer_validation_gives_one_line(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, status, message = IN_PROCESS[case]
    assert main(args) == status
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("exotel-voice") and message in lines[0]
    assert captured.out == ""


@pytest.mark.usefixtures("quiet_logging")
def test_bare_command_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "Usage: exotel-voice" in captured.out and "phone" in captured.out
    assert captured.err == ""


@pytest.mark.usefixtures("quiet_logging")
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("exotel-voice 0.")
