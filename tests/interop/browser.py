"""A JsSIP phone in Debian's headless Chromium, for interop tests against the SDK.

``BrowserPhone`` runs ``web/driver.mjs`` (playwright-core driving ``/usr/bin/chromium``
with a fresh profile and fake media devices) on the page ``web/index.html``, served by
``PageServer`` on loopback. The page's ``window.interop`` API (``web/phone.js``) is
called as ``await browser.call("register", {...})``::

    with PageServer() as server:
        async with BrowserPhone(tmp_path, server.url, audio_file=wav) as browser:
            await browser.call("register", {"wsUrl": ..., "uri": ..., "password": ...})

``ensure_installed()`` runs scripts/install-browser-deps.sh (as root): Debian's Chromium,
the npm packages of ``web/package-lock.json`` and the JsSIP bundle, each only if missing
or stale.

Nothing here imports the SDK: the browser side must not depend on what it tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import itertools
import json
import math
import os
import shutil
import signal
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import numpy as np

from tests.installing import run_install_script

__all__ = [
    "BrowserEnv",
    "BrowserError",
    "BrowserPhone",
    "PageServer",
    "ensure_installed",
    "missing_pieces",
    "write_tone_wav",
]

HERE = Path(__file__).resolve().parent
WEB_DIR = HERE / "web"
REPO_ROOT = HERE.parent.parent
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-browser-deps.sh"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = WEB_DIR / "driver.mjs"
BUNDLE = WEB_DIR / "build" / "jssip.js"
PLAYWRIGHT = WEB_DIR / "node_modules" / "playwright-core" / "package.json"

LOOPBACK = "127.0.0.1"


class BrowserError(RuntimeError):
    """The browser could not be installed, started or driven."""


# --------------------------------------------------------------------------- install


def _chromium_installed() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def missing_pieces() -> list[str]:
    """What the browser tests need that is not installed (empty when all is there)."""
    missing = []
    if not _chromium_installed():
        missing.append(f"Debian's chromium ({CHROMIUM})")
    if shutil.which("node") is None:
        missing.append("node (Node.js 20+)")
    if not PLAYWRIGHT.is_file():
        missing.append("npm packages in tests/interop/web (npm ci)")
    if not BUNDLE.is_file() or BUNDLE.stat().st_size == 0:
        missing.append("the JsSIP bundle tests/interop/web/build/jssip.js (npm run bundle)")
    return missing


def ensure_installed() -> None:
    """Make sure the browser, the npm packages and the JsSIP bundle are there and current.

    scripts/install-browser-deps.sh runs every time: it is idempotent, takes under a
    second when all is in place, and rebuilds a bundle older than package.json. Only
    its apt step needs root: without root, Chromium must already be installed.

    Raises:
        BrowserError: Chromium is missing and this is not root, or the script failed
            (with its output).
    """
    if os.geteuid() != 0 and not _chromium_installed():
        raise BrowserError(
            f"the browser interop tests need: {'; '.join(missing_pieces())}. This test run "
            f"is not root, so it cannot install Chromium. Run as root: {INSTALL_SCRIPT}"
        )
    run_install_script(INSTALL_SCRIPT, missing_pieces, BrowserError)


# --------------------------------------------------------------------------- the page


class _PageHandler(http.server.BaseHTTPRequestHandler):
    """Serves the page's few files and nothing else."""

    FILES: ClassVar[dict[str, tuple[Path, str]]] = {
        "/": (WEB_DIR / "index.html", "text/html; charset=utf-8"),
        "/phone.js": (WEB_DIR / "phone.js", "text/javascript; charset=utf-8"),
        "/tone-meter.js": (WEB_DIR / "tone-meter.js", "text/javascript; charset=utf-8"),
        "/jssip.js": (BUNDLE, "text/javascript; charset=utf-8"),
    }

    def do_GET(self) -> None:
        route = self.path.split("?", 1)[0]
        if route == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        found = self.FILES.get(route)
        if found is None:
            self.send_error(404)
            return
        path, content_type = found
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the driver's log has what the page did."""


class PageServer:
    """The page on http://127.0.0.1:<free port>/ (a secure context, like https)."""

    def __init__(self) -> None:
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _PageHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def write_tone_wav(
    path: Path, frequency: float, *, seconds: float = 1.0, rate: int = 48000, level: float = 0.3
) -> Path:
    """A mono 16-bit WAV of a sine, in whole cycles so that the file loops seamlessly
    (Chromium's fake capture still jumps at its seam: make it longer than the calls)."""
    cycles = max(1, round(frequency * seconds))
    samples = round(cycles * rate / frequency)
    t = np.arange(samples) / rate
    pcm = (np.sin(2 * math.pi * frequency * t) * level * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@dataclass(frozen=True, slots=True)
class BrowserEnv:
    """What every browser of a test run shares: the page and the fake microphone."""

    page_url: str
    """Where ``PageServer`` serves the page."""
    microphone: Path
    """The WAV Chromium's fake microphone plays."""
    microphone_hz: float
    """The tone in it."""


# --------------------------------------------------------------------------- the browser


class BrowserPhone:
    """Headless Chromium on the interop page, driven over ``driver.mjs``'s stdin/stdout.

    Args:
        workdir: a fresh directory for the profile and the log.
        page_url: where ``PageServer`` serves the page.
        audio_file: a WAV the fake microphone plays (default: Chromium's beep).
        start_timeout: seconds for Chromium to start and the page to load.
    """

    def __init__(
        self,
        workdir: Path,
        page_url: str,
        *,
        audio_file: Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.workdir = workdir
        self.page_url = page_url
        self.audio_file = audio_file
        self.start_timeout = start_timeout
        self.profile = workdir / "chromium-profile"
        self.log_path = workdir / "browser.log"
        self.browser_version = ""
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._ready: asyncio.Future[dict[str, Any]] | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start Chromium on the page; return once ``window.interop`` is there.

        Raises:
            BrowserError: it did not come up within ``start_timeout`` (with the log).
        """
        self.profile.mkdir(parents=True, exist_ok=False)  # a fresh profile every time
        command = [
            "node",
            str(DRIVER),
            "--url",
            self.page_url,
            "--user-data-dir",
            str(self.profile),
            "--chromium",
            str(CHROMIUM),
        ]
        if self.audio_file is not None:
            command += ["--audio-file", str(self.audio_file)]
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=WEB_DIR,
                start_new_session=True,  # its own group: a stuck driver is killed whole
            )
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_replies())
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), self.start_timeout)
        except (TimeoutError, BrowserError) as exc:
            await self.close()
            raise BrowserError(f"Chromium did not start: {exc}\n{self.log_tail()}") from exc
        self.browser_version = str(ready.get("browser", ""))

    async def call(self, method: str, *args: Any, timeout: float = 20.0) -> Any:
        """Run ``window.interop[method](*args)`` in the page and return its result.

        Raises:
            BrowserError: the page threw (its message), the browser is gone, or no answer
                came within ``timeout``.
        """
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise BrowserError(f"the browser is not running\n{self.log_tail()}")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, "method": method, "args": list(args)})
        try:
            process.stdin.write(line.encode() + b"\n")
            await process.stdin.drain()
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise BrowserError(f"{method}: no answer from the page within {timeout} s") from exc
        finally:
            self._pending.pop(request_id, None)

    async def close(self, timeout: float = 10.0) -> None:
        """Close the browser (gracefully, then by signal) and wait until it is gone."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                process.stdin.write(b'{"id": 0, "method": "close"}\n')
                await process.stdin.drain()
                process.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if process.stdin is not None:
            # a driver that exited by itself left our end open: the transport would be
            # closed by the garbage collector after the loop ("Event loop is closed")
            process.stdin.close()
        # playwright starts Chromium in a process group of its own: a driver that died
        # before closing it leaves it behind. Ours are the ones on our profile.
        for pid in _processes_using(self.profile):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._reader is not None:
            await self._reader
        self._process = None

    def log_tail(self, lines: int = 80) -> str:
        """The end of the driver's log (page console, JsSIP, Chromium's errors)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no browser log)"
        return "--- browser log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    async def _read_replies(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        while line := await process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("ready") and self._ready is not None and not self._ready.done():
                self._ready.set_result(message)
                continue
            future = self._pending.get(message.get("id"))
            if future is None or future.done():
                continue
            if message.get("ok"):
                future.set_result(message.get("result"))
            else:
                future.set_exception(BrowserError(str(message.get("error"))))
        gone = BrowserError("the browser driver exited")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(gone)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(gone)


def _processes_using(profile: Path) -> list[int]:
    """Pids of the processes whose command line names ``profile``."""
    marker = str(profile).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command_line = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if marker in command_line:
            found.append(int(entry))
    return found
