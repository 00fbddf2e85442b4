"""The media tests' own PulseAudio and coturn: real servers, private files, free ports.

Both come from Debian's packages, installed (as root) by scripts/install-media-deps.sh
when missing; not root and missing -> the test fails saying what to run, never skips.

``PulseServer`` runs ``pulseaudio`` as a foreground child (``-n``: no default.pa, so no
hardware modules, no autospawn, nothing of the machine's), with its runtime, state and
home in a temporary directory and one anonymous native-protocol socket there. Tests
point libpulse at it with ``PULSE_SERVER`` (the ``pulse`` fixture sets it for the test
process; children inherit it). PortAudio reaches it through ALSA's ``pulse`` plugin
(libasound2-plugins), exactly as on a desktop.

Null sinks stand in for speakers, their ``.monitor`` sources for microphones. An idle
null sink renders in 2 s blocks and only shortens them when that block ends, so a
stream that joins an idle sink waits up to 2 s before any audio moves (PulseAudio 16).
A hardware sink rewinds instead; to test our code rather than that quirk, every sink
made here gets a keep-alive (``pacat`` playing silence at 20 ms latency into it) and
one suspend/resume cycle, after which it renders 20 ms blocks as long as it exists.

``TurnServer`` runs coturn's ``turnserver`` in the foreground on a free loopback port
(UDP and TCP), no config file (``-n``), no CLI, no TLS, its own sqlite user db, pid file
and log in a temporary directory, one long-term-credential user. The system ``coturn``
service is never touched.

Nothing here imports the project's packages: the harness must not depend on the code
it tests.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.installing import run_install_script

__all__ = [
    "MediaDepsError",
    "PulseServer",
    "TurnServer",
    "ensure_installed",
    "missing_pieces",
    "pulse",
    "turn",
]

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-media-deps.sh"
LOOPBACK = "127.0.0.1"
SBIN_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin")
ALSA_PULSE_PLUGIN = "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so"


class MediaDepsError(RuntimeError):
    """A system piece is missing, or a server did not start."""


# --------------------------------------------------------------------------- install


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def missing_pieces() -> list[str]:
    """What of the media tests' system dependencies is missing (empty when all is there)."""
    missing = [
        f"{name} ({package})"
        for name, package in (
            ("pulseaudio", "pulseaudio"),
            ("pactl", "pulseaudio-utils"),
            ("pacat", "pulseaudio-utils"),
            ("turnserver", "coturn"),
        )
        if _which(name) is None
    ]
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio.so.2 (libportaudio2)")
    if not glob.glob(ALSA_PULSE_PLUGIN):
        missing.append("ALSA pulse plugin (libasound2-plugins)")
    return missing


def ensure_installed() -> None:
    """Install the missing Debian packages (as root) with scripts/install-media-deps.sh.

    Raises:
        MediaDepsError: not root, or the installer failed (with its output).
    """
    missing = missing_pieces()
    if not missing:
        return
    if os.geteuid() != 0:
        raise MediaDepsError(
            f"media test dependencies are missing ({', '.join(missing)}) and this run is "
            f"not root, so it cannot install them. Run as root: sudo {INSTALL_SCRIPT}"
        )
    run_install_script(INSTALL_SCRIPT, missing_pieces, MediaDepsError)


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """SIGTERM a child started in its own session, then SIGKILL; reaped either way."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


# --------------------------------------------------------------------------- PulseAudio


class PulseServer:
    """A private PulseAudio: null sinks on demand, reachable through ``client_env``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.runtime_dir = self.workdir / "run"
        self.socket = self.runtime_dir / "native"
        if len(str(self.socket)) > 100:  # AF_UNIX paths are limited to 108 bytes
            self.runtime_dir = Path(tempfile.mkdtemp(prefix="pulse-"))
            self.socket = self.runtime_dir / "native"
        self.log_path = self.workdir / "pulseaudio.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._sinks: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}

    @property
    def server(self) -> str:
        """The ``PULSE_SERVER`` string."""
        return f"unix:{self.socket}"

    def client_env(self) -> dict[str, str]:
        """Environment variables that make libpulse clients use this server."""
        return {"PULSE_SERVER": self.server, "PULSE_COOKIE": str(self.workdir / "cookie")}

    def _env(self) -> dict[str, str]:
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            HOME=str(home),
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            XDG_CONFIG_HOME=str(home / ".config"),
            PULSE_RUNTIME_PATH=str(self.runtime_dir / "pulse"),
            PULSE_STATE_PATH=str(self.workdir / "state"),
            LC_ALL="C",
        )
        env.update(self.client_env())
        return env

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until ``pactl info`` answers.

        Raises:
            MediaDepsError: it did not come up (with its log).
        """
        self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        pulseaudio = _which("pulseaudio")
        assert pulseaudio is not None
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                pulseaudio,
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--disable-shm=yes",
                "--high-priority=no",
                "--realtime=no",
                "--log-target=stderr",
                "-L",
                f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self._env(),
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.socket.exists() and self._pactl_ok("info"):
                return
            time.sleep(0.05)
        self.stop()
        raise MediaDepsError(
            f"PulseAudio did not start within {timeout} s; log:\n{self.log_text()[-3000:]}"
        )

    def log_text(self) -> str:
        """The server's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _pactl_ok(self, *args: str) -> bool:
        pactl = _which("pactl")
        assert pactl is not None
        done = subprocess.run(
            [pactl, *args], env=self._env(), capture_output=True, timeout=10, check=False
        )
        return done.returncode == 0

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this server; its stdout.

        Raises:
            MediaDepsError: pactl failed.
        """
        pactl = _which("pactl")
        assert pactl is not None
        done = subprocess.run(
            [pactl, *args], env=self._env(), capture_output=True, text=True, timeout=10, check=False
        )
        if done.returncode != 0:
            raise MediaDepsError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def add_sink(self, name: str, description: str | None = None) -> None:
        """Load a null sink ``name`` (its monitor is the source ``name.monitor``)."""
        properties = f" sink_properties=device.description={description}" if description else ""
        module = self.pactl(
            "load-module", "module-null-sink", f"sink_name={name} rate=48000{properties}"
        ).strip()
        pacat = _which("pacat")
        assert pacat is not None
        keepalive = subprocess.Popen(
            [
                pacat,
                "--playback",
                f"--device={name}",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
                "--latency-msec=20",
                "--client-name=keepalive",
                "/dev/zero",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._env(),
            start_new_session=True,
        )
        self._sinks[name] = (module, keepalive)
        self._wait_for_short_blocks(name)

    def _sink(self, name: str) -> dict[str, Any]:
        sinks = json.loads(self.pactl("--format=json", "list", "sinks"))
        return next((s for s in sinks if s.get("name") == name), {})

    def _wait_for_short_blocks(self, name: str, timeout: float = 10.0) -> None:
        """Once the keep-alive plays, make the sink drop the 2 s block it started with.

        A suspend/resume cycle restarts the sink's clock, and it then renders blocks of
        the latency its inputs ask for (the keep-alive's 20 ms).
        """
        deadline = time.monotonic() + timeout
        while self._sink(name).get("state") != "RUNNING":
            if time.monotonic() > deadline:
                raise MediaDepsError(f"the keep-alive of sink {name} did not start")
            time.sleep(0.02)
        self.pactl("suspend-sink", name, "1")
        self.pactl("suspend-sink", name, "0")
        while float(self._sink(name).get("latency", {}).get("actual", 1e9)) > 100_000:
            if time.monotonic() > deadline:
                raise MediaDepsError(f"sink {name} kept its long idle blocks")
            time.sleep(0.02)

    def remove_sink(self, name: str) -> None:
        """Unload the null sink ``name`` (and stop its keep-alive)."""
        module, keepalive = self._sinks.pop(name)
        _stop(keepalive)
        self.pactl("unload-module", module)

    def set_default_sink(self, name: str) -> None:
        """Make ``name`` the default output."""
        self.pactl("set-default-sink", name)

    def set_default_source(self, name: str) -> None:
        """Make ``name`` the default input."""
        self.pactl("set-default-source", name)

    def stop(self) -> None:
        """Stop the keep-alives and the server."""
        for _module, keepalive in self._sinks.values():
            _stop(keepalive)
        self._sinks.clear()
        _stop(self._process)
        self._process = None


# --------------------------------------------------------------------------- coturn


def _free_udp_and_tcp_port() -> int:
    """A loopback port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise MediaDepsError("no loopback port free for both UDP and TCP")


def stun_binding_answered(port: int, timeout: float = 0.5) -> bool:
    """One STUN Binding request (RFC 5389 §6) to 127.0.0.1:port; True on a success answer."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (LOOPBACK, port))
            data = sock.recv(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[:2] == b"\x01\x01" and data[8:20] == transaction


class TurnServer:
    """A private coturn on a free loopback port: STUN, and TURN with one user."""

    realm = "sipmedia.test"
    username = "probe"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.password = secrets.token_hex(8)
        self.port = 0
        self.log_path = self.workdir / "turnserver.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def stun_url(self) -> str:
        """``stun:127.0.0.1:PORT``."""
        return f"stun:{LOOPBACK}:{self.port}"

    def turn_url(self, transport: str = "udp") -> str:
        """``turn:127.0.0.1:PORT?transport=udp|tcp``."""
        return f"turn:{LOOPBACK}:{self.port}?transport={transport}"

    def start(self, timeout: float = 15.0) -> None:
        """Start coturn and wait until it answers a STUN Binding request.

        Raises:
            MediaDepsError: it did not come up (with its log).
        """
        turnserver = _which("turnserver")
        assert turnserver is not None
        self.port = _free_udp_and_tcp_port()
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                turnserver,
                "-n",  # no configuration file: everything is on this command line
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--no-rfc5780",
                "--listening-ip",
                LOOPBACK,
                "--relay-ip",
                LOOPBACK,
                "--listening-port",
                str(self.port),
                "--lt-cred-mech",
                "--realm",
                self.realm,
                "--user",
                f"{self.username}:{self.password}",
                "--userdb",
                str(self.workdir / "turndb.sqlite"),
                "--pidfile",
                str(self.workdir / "turnserver.pid"),
                "--log-file",
                "stdout",
                "--simple-log",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if stun_binding_answered(self.port, 0.2):
                return
        self.stop()
        log_text = self.log_path.read_text(errors="replace")[-3000:]
        raise MediaDepsError(f"coturn did not start within {timeout} s; log:\n{log_text}")

    def stop(self) -> None:
        """Stop coturn."""
        _stop(self._process)
        self._process = None


# --------------------------------------------------------------------------- fixtures


def _installed() -> None:
    try:
        ensure_installed()
    except MediaDepsError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def pulse(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PulseServer]:
    """A private PulseAudio for one test; libpulse in this process (and children) uses it."""
    _installed()
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    try:
        server.start()
    except MediaDepsError as error:
        pytest.fail(str(error), pytrace=False)
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    """The session's coturn (STUN + TURN on one free loopback port)."""
    _installed()
    server = TurnServer(tmp_path_factory.mktemp("coturn"))
    try:
        server.start()
    except MediaDepsError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
