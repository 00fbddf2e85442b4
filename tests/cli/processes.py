"""Run ``exotel-voice`` as a real subprocess (``python -m exotel_voice.cli``) and read it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

COMMAND = [sys.executable, "-m", "exotel_voice.cli"]
# No variable of the developer's may leak into what is tested.
_STRIPPED = ("EXOTEL_VOICE_PASSWORD", "EXOTEL_API_KEY", "EXOTEL_API_TOKEN", "EXOTEL_ACCOUNT_SID")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI process: ours without EXOTEL_*, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Finished:
    """A finished CLI process."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def events(self) -> list[dict[str, Any]]:
        """stdout as JSON lines."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 90, cwd: Path | None = None
) -> Finished:
    """Run the CLI to completion."""
    started = time.monotonic()
    done = subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        env=environment(env),
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


class Running:
    """A CLI process still running; its stdout (JSON lines) is read as it comes."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment(env),
        )
        self.seen: list[dict[str, Any]] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str | None] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._lines.put)),
            threading.Thread(target=self._read, args=(self.process.stderr, self._stderr.append)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    @staticmethod
    def _read(stream: TextIO | None, sink: Callable[[str | None], None]) -> None:
        assert stream is not None
        for line in stream:
            sink(line)
        sink(None)

    def wait_for_event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """Read events until one named ``name`` (AssertionError at the end or timeout)."""
        deadline = time.monotonic() + timeout
        for old in self.seen:
            if old["event"] == name:
                return old
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            event: dict[str, Any] = json.loads(line)
            self.seen.append(event)
            if event["event"] == name:
                return event
        self.kill()
        raise AssertionError(f"no {name!r} event; saw {self.seen}; stderr: {self.stderr}")

    def finish(self, timeout: float = 60) -> Finished:
        """Wait for the exit; returns every event and what stderr said."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in self._readers:
            reader.join(10)
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                self.seen.append(json.loads(line))
        stdout = "\n".join(json.dumps(e) for e in self.seen)
        return Finished(
            self.process.returncode, stdout, self.stderr, time.monotonic() - self.started
        )

    @property
    def stderr(self) -> str:
        return "".join(line for line in self._stderr if line is not None)

    def kill(self) -> None:
        """End the process (a test that failed must not leave it behind)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
