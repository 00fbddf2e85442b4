"""Run the examples as real subprocesses against the embedded development server.

The test owns the server (``serve``) and the peer phones (the Pythonic API, in the test's
own event loop); each example runs as ``python examples/<name>.py`` with the account on
its command line and the password in ``EXOTEL_VOICE_PASSWORD``, as a user runs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import anyio
import anyio.abc
import av
import numpy as np

from exotel_voice import Account, AudioConfig, Call, Phone, TlsOptions
from sipadapters.server import LocalServerRunner, serve
from sipmedia import SAMPLE_RATE, Pcm, Resampler, tone_ratio

__all__ = [
    "EXAMPLES",
    "PASSWORD",
    "TONE_SHARE",
    "Example",
    "dev_server",
    "account",
    "example_args",
    "environment",
    "running",
    "running_command",
    "peer",
    "registered",
    "first_incoming",
    "hears",
    "onset",
    "tones_in_order",
    "decode",
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "examples-only-password"
"""Every development user's password (the server listens on loopback only)."""
USERS = ("bot", "agent", "alice", "bob", "carol", "dave", "dialer")
TONE_SHARE = 0.8
"""A tone is heard when it carries this share of the received energy (as the demo's)."""

_STRIPPED = ("EXOTEL_VOICE_PASSWORD", "EXOTEL_API_KEY", "EXOTEL_API_TOKEN", "SSL_CERT_FILE")


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[LocalServerRunner]:
    """The embedded development server with ``USERS``, over ws and wss."""
    async with serve(
        dict.fromkeys(USERS, PASSWORD), domain="local.test", transports=("ws", "wss")
    ) as server:
        yield server


def account(server: LocalServerRunner, user: str, **options: int) -> Account:
    """``user`` on ``server`` over wss, the development CA trusted."""
    return Account(
        user=user,
        password=PASSWORD,
        domain=server.domain,
        server=server.wss_url,
        tls=TlsOptions(ca_file=server.ca_file),
        **options,  # type: ignore[arg-type]
    )


def example_args(server: LocalServerRunner, user: str) -> list[str]:
    """The account options every example takes (the password goes in the environment)."""
    assert server.ca_file is not None
    return [
        "--server",
        server.wss_url,
        "--ca-file",
        server.ca_file,
        "--domain",
        server.domain,
        "--user",
        user,
    ]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Ours without the developer's secrets, unbuffered, with the development password."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED}
    env.update(PYTHONUNBUFFERED="1", EXOTEL_VOICE_PASSWORD=PASSWORD)
    env.update(extra or {})
    return env


class Example:
    """An example running as a subprocess; its output lines are collected as they come."""

    def __init__(self, name: str, process: anyio.abc.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []
        self.stderr = bytearray()
        self._changed = anyio.Event()
        self._stdout_done = False

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        pending = b""
        async for chunk in self.process.stdout:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            self.lines.extend(line.decode() for line in complete)
            self._changed.set()
            self._changed = anyio.Event()
        if pending:
            self.lines.append(pending.decode())
        self._stdout_done = True
        self._changed.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for chunk in self.process.stderr:
            self.stderr += chunk

    def transcript(self) -> str:
        """What the example said so far, for failure messages."""
        out = "\n".join(self.lines)
        err = self.stderr.decode(errors="replace")
        return f"--- {self.name} stdout ---\n{out}\n--- stderr ---\n{err}"

    async def line(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """The first output line matching ``pattern`` (a regex), waiting up to ``timeout``."""
        compiled = re.compile(pattern)
        checked = 0
        with anyio.move_on_after(timeout):
            while True:
                for text in self.lines[checked:]:
                    if found := compiled.search(text):
                        return found
                checked = len(self.lines)
                if self._stdout_done:
                    break
                await self._changed.wait()
        raise AssertionError(f"no line matching {pattern!r}\n{self.transcript()}")

    async def exit(self, timeout: float = 15.0) -> int:
        """Wait for the example to exit by itself; its exit status."""
        with anyio.move_on_after(timeout):
            return await self.process.wait()
        raise AssertionError(f"{self.name} did not exit within {timeout} s\n{self.transcript()}")


def running(
    script: str, *args: str, env: Mapping[str, str] | None = None
) -> contextlib.AbstractAsyncContextManager[Example]:
    """Run ``examples/<script>`` with ``args``; stopped on the way out if still running."""
    return running_command([sys.executable, str(EXAMPLES / script), *args], script, env=env)


@contextlib.asynccontextmanager
async def running_command(
    command: list[str],
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> AsyncIterator[Example]:
    """Run ``command``; stopped (SIGTERM, then SIGKILL) on the way out if still running."""
    process = await anyio.open_process(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(env),
        cwd=cwd,
    )
    example = Example(name, process)
    try:
        async with anyio.create_task_group() as readers:
            readers.start_soon(example._read_stdout)
            readers.start_soon(example._read_stderr)
            try:
                yield example
            except BaseException as exc:
                exc.add_note(example.transcript())
                raise
            finally:
                with anyio.CancelScope(shield=True):
                    await _stop(process)
    finally:
        await process.aclose()


async def _stop(process: anyio.abc.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    with anyio.move_on_after(5):
        await process.wait()
        return
    process.kill()
    await process.wait()


@contextlib.asynccontextmanager
async def peer(
    server: LocalServerRunner,
    user: str,
    tone: float | None = None,
    *,
    heard: list[Pcm] | None = None,
    **options: int,
) -> AsyncIterator[Phone]:
    """A phone of the test's own, registered as ``user``, sending ``tone`` Hz in its calls
    and appending every 20 ms chunk its calls receive to ``heard``."""
    audio = AudioConfig(
        source=f"tone:{tone}" if tone else "silence",
        sink=None if heard is None else heard.append,
    )
    async with Phone(account(server, user, **options), audio=audio) as phone:
        yield phone


async def registered(server: LocalServerRunner, user: str, timeout: float = 15.0) -> None:
    """Until ``user`` has a registration on ``server``."""
    with anyio.fail_after(timeout):
        while not server.server.bindings(user):
            await anyio.sleep(0.05)


async def first_incoming(phone: Phone) -> Call:
    """The next call ringing on ``phone``."""
    async for call in phone.incoming():
        return call
    raise AssertionError("the phone closed before a call came")


async def hears(
    call: Call, frequency: float, timeout: float = 8.0, *, window: float = 0.3
) -> float:
    """Until the last ``window`` seconds ``call`` received are mostly ``frequency`` (a
    beep must fill the window: take one shorter than the beep); returns the share."""
    with anyio.move_on_after(timeout):
        while True:
            share = tone_ratio(await call.recent_audio(window), frequency)
            if share >= TONE_SHARE:
                return share
            await anyio.sleep(0.02)
    heard = await call.recent_audio(window)
    raise AssertionError(
        f"{frequency:g} Hz not heard within {timeout} s (share {tone_ratio(heard, frequency):.2f})"
    )


def tones_in_order(pcm: Pcm, frequencies: list[float], window: float = 0.1) -> bool:
    """Whether ``pcm`` holds each of ``frequencies`` (alone in a ``window``), in order.

    Each frequency must be a whole multiple of ``1 / window`` Hz, so that it falls on a
    bin of the transform ``tone_ratio`` takes (10 Hz bins for 0.1 s).
    """
    size = int(window * SAMPLE_RATE)
    start = 0
    for frequency in frequencies:
        while start + size <= pcm.size and tone_ratio(pcm[start : start + size], frequency) < 0.9:
            start += size // 4
        if start + size > pcm.size:
            return False
    return True


def onset(pcm: Pcm, seconds: float) -> Pcm:
    """The first ``seconds`` of sound in ``pcm`` (after any leading silence)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 1000)
    if loud.size == 0:
        return pcm[:0]
    start = int(loud[0])
    return pcm[start : start + int(seconds * SAMPLE_RATE)]


def decode(path: Path) -> Pcm:
    """A whole audio file (wav, ogg...) as 48 kHz mono int16, decoded with PyAV."""
    resample = Resampler()
    with av.open(str(path)) as container:
        chunks = [resample(frame) for frame in container.decode(audio=0)]
    return np.concatenate(chunks)
