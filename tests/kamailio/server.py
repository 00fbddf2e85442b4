"""The test suite's own Kamailio: a real SIP registrar/proxy on free loopback ports.

``KamailioServer`` renders ``kamailio.cfg.tmpl`` into a private work directory
(config, sqlite user db, trustme certificates, pid file, ctl socket, log) and
runs Debian's Kamailio 5.6 in the foreground (``-DD -E``) as a child of the
test process, in its own process group so that kill/stop reach every worker.

    server = KamailioServer(tmp_path)        # or KamailioServer(tmp_path, min_expires=5)
    with server:                             # start() ... stop()
        server.ws_url, server.wss_url, server.udp_port, server.tcp_port
        server.users["alice"]                # password
        server.kill(); server.start()        # crash + restart on the same ports
        server.restart()                     # the same in one call
        server.close_ws(client_port)         # server-side WebSocket close (ws.close RPC)
        server.drop_connection(client_port)  # server-side abrupt TCP reset (ss -K)

Nothing here imports the project's own packages: the harness must not depend
on the SIP stack it is used to test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme

from tests.installing import run_install_script

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-kamailio.sh"
CONFIG_TEMPLATE = HERE / "kamailio.cfg.tmpl"
USER_SCHEMA = HERE / "users.sql"

#: Where Debian's packages put Kamailio's binaries and modules.
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/local/lib64/kamailio/modules",
    "/usr/local/lib/kamailio/modules",
)
#: Modules the config loads that come from the extra Debian packages.
REQUIRED_MODULES = ("websocket.so", "tls.so", "db_sqlite.so", "xhttp.so", "auth_db.so")

DEFAULT_DOMAIN = "example.test"
DEFAULT_USERS: Mapping[str, str] = {
    "alice": "alice-secret",
    "bob": "bob-secret",
    "carol": "carol-secret",
    "dave": "dave-secret",
    "erin": "erin-secret",
    "frank": "frank-secret",
}

LOOPBACK = "127.0.0.1"


class KamailioError(RuntimeError):
    """Kamailio could not be found, installed, started or controlled."""


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class KamailioSettings:
    """Everything of the config that a test may want to change."""

    domain: str = DEFAULT_DOMAIN
    users: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_USERS))
    # registrar
    min_expires: int = 10
    min_expires_mode: int = 0  # 0: raise a too-short Expires to min; 1: answer 423
    default_expires: int = 3600
    max_expires: int = 3600
    max_contacts: int = 0  # 0: unlimited contacts per AOR
    nonce_expire: int = 300
    # scale
    shm_mb: int = 64  # -m
    pkg_mb: int = 8  # -M
    children: int = 4  # UDP workers
    tcp_children: int = 4  # TCP/TLS/WS workers
    tcp_max_connections: int = 4096
    tls_max_connections: int = 2048
    open_files: int | None = None  # None: min(16384, the hard RLIMIT_NOFILE)
    ws_keepalive_timeout: int = 180
    log_level: int = 2  # Kamailio `debug`: 1 notice ... 3 debug
    # time allowed for the ports to come up
    start_timeout: float = 20.0

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9.-]+", self.domain):
            raise ValueError(f"unusable SIP domain {self.domain!r}")
        if self.domain == LOOPBACK:
            raise ValueError("the SIP domain must not be the listen address")
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclasses.dataclass(frozen=True)
class Ports:
    udp: int
    tcp: int
    ws: int
    wss: int


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


def modules_dir() -> Path | None:
    """The directory holding Kamailio's modules, if the needed ones are all there."""
    for directory in MODULE_DIRS:
        path = Path(directory)
        if all((path / module).is_file() for module in REQUIRED_MODULES):
            return path
    return None


def missing_pieces() -> list[str]:
    """What of the suite's Kamailio is not installed (empty when all is there)."""
    missing = [name for name in ("kamailio", "kamcmd") if _which(name) is None]
    if modules_dir() is None:
        missing.append("modules " + ", ".join(REQUIRED_MODULES))
    return missing


def ensure_installed(*, allow_install: bool = True) -> str:
    """Return the kamailio binary; install Debian's packages first if root and missing.

    Raises KamailioError (with the installer's output, or what to run) otherwise.
    """
    missing = missing_pieces()
    if missing:
        if not allow_install:
            raise KamailioError(f"Kamailio is not installed (missing: {', '.join(missing)})")
        if os.geteuid() != 0:
            raise KamailioError(
                f"Kamailio is not installed (missing: {', '.join(missing)}) and this test run "
                f"is not root, so it cannot install it. Run as root: sudo {INSTALL_SCRIPT}"
            )
        run_install_script(INSTALL_SCRIPT, missing_pieces, KamailioError)
    binary = _which("kamailio")
    assert binary is not None
    return binary


# --------------------------------------------------------------------------- helpers


def _pick_free_ports() -> Ports:
    """Four distinct free loopback ports (UDP for udp, TCP for the others).

    The sockets are held open together so that no number repeats; there is a
    small window before Kamailio binds them, which start() covers by retrying.
    """
    held: list[socket.socket] = []
    numbers: set[int] = set()
    picked: list[int] = []
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_STREAM):
            while True:
                sock = socket.socket(socket.AF_INET, kind)
                held.append(sock)
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
                if port in numbers:
                    continue
                # a UDP port whose TCP twin is busy (or the other way) is fine:
                # Kamailio binds only the protocol we list for that port
                numbers.add(port)
                picked.append(port)
                break
    finally:
        for sock in held:
            sock.close()
    return Ports(udp=picked[0], tcp=picked[1], ws=picked[2], wss=picked[3])


def render_config(template: str, values: Mapping[str, object]) -> str:
    """Replace every ``{{NAME}}``; unknown or unused names are errors."""
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KamailioError(f"config template needs a value for {{{{{name}}}}}")
        used.add(name)
        return str(values[name])

    rendered = re.sub(r"\{\{([A-Z0-9_]+)\}\}", substitute, template)
    if "{{" in rendered or "}}" in rendered:
        raise KamailioError("config template has a malformed {{...}} placeholder")
    unused = set(values) - used
    if unused:
        raise KamailioError(f"config values not used by the template: {sorted(unused)}")
    return rendered


def create_user_db(path: Path, domain: str, users: Mapping[str, str]) -> None:
    """Create the sqlite subscriber table Kamailio's auth_db reads (plain passwords)."""
    if path.exists():
        path.unlink()
    connection = sqlite3.connect(path)
    try:
        connection.executescript(USER_SCHEMA.read_text())
        connection.executemany(
            "INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
            [(user, domain, password) for user, password in users.items()],
        )
        connection.commit()
    finally:
        connection.close()


def _default_open_files() -> int:
    """16384 file descriptors, or the hard limit if lower (Kamailio fails past it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 16384 if hard == resource.RLIM_INFINITY else min(16384, hard)


def _group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is left in process group pgid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _options_ping(port: int, timeout: float) -> bool:
    """One OPTIONS to the server over UDP; True if any SIP reply comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + secrets.token_hex(8)
        message = (
            f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{LOOPBACK}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{LOOPBACK}:{port}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}@probe\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(message.encode(), (LOOPBACK, port))
            data = sock.recv(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


def _tcp_accepts(port: int, timeout: float, tls: ssl.SSLContext | None = None) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as raw:
            if tls is None:
                return True
            with tls.wrap_socket(raw, server_hostname=LOOPBACK) as secure:
                with contextlib.suppress(OSError, ssl.SSLError):
                    secure.unwrap()  # close_notify, so Kamailio logs no read error
                return True
    except (OSError, ssl.SSLError):
        return False


# --------------------------------------------------------------------------- the server


class KamailioServer:
    """A Kamailio of the suite's own: free loopback ports, private files, foreground child."""

    host = LOOPBACK

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        settings: KamailioSettings | None = None,
        **overrides: Any,
    ) -> None:
        """``workdir`` holds every file of this instance (a new temp dir if None, kept
        afterwards for its log); ``overrides`` are KamailioSettings fields."""
        base = settings or KamailioSettings()
        self.settings = dataclasses.replace(base, **overrides) if overrides else base
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="kamailio-")
        self.workdir = Path(workdir).resolve()
        self.domain = self.settings.domain
        self.users: dict[str, str] = dict(self.settings.users)
        self.config_path = self.workdir / "kamailio.cfg"
        self.db_path = self.workdir / "users.sqlite"
        self.ca_file = self.workdir / "ca.pem"
        self.cert_file = self.workdir / "server-cert.pem"
        self.key_file = self.workdir / "server-key.pem"
        self.log_path = self.workdir / "kamailio.log"
        self.pid_file = self.workdir / "run" / "kamailio.pid"
        self.runtime_dir = self.workdir / "run"
        self.ctl_socket = self.workdir / "run" / "ctl.sock"
        if len(str(self.ctl_socket)) > 100:  # AF_UNIX paths are limited to 108 bytes
            self.ctl_socket = Path(tempfile.mkdtemp(prefix="kamctl-")) / "ctl.sock"
        self.ca: trustme.CA | None = None
        self.startup_seconds: float | None = None  # of the last successful start()
        self._ports: Ports | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._prepared = False
        self._binary: str | None = None
        self._log_offset = 0

    # ----- addresses

    @property
    def ports(self) -> Ports:
        if self._ports is None:
            raise KamailioError("Kamailio has no ports before start()")
        return self._ports

    @property
    def udp_port(self) -> int:
        return self.ports.udp

    @property
    def tcp_port(self) -> int:
        return self.ports.tcp

    @property
    def ws_port(self) -> int:
        return self.ports.ws

    @property
    def wss_port(self) -> int:
        return self.ports.wss

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}/"

    @property
    def wss_url(self) -> str:
        return f"wss://{self.host}:{self.wss_port}/"

    @property
    def registrar_uri(self) -> str:
        """Request-URI of a REGISTER: ``sip:<domain>``."""
        return f"sip:{self.domain}"

    def aor(self, user: str) -> str:
        """``sip:user@domain``."""
        return f"sip:{user}@{self.domain}"

    def outbound_proxy(self, transport: str = "udp") -> str:
        """The server as a SIP URI to send requests to (udp, tcp, ws, wss)."""
        ports = {"udp": self.udp_port, "tcp": self.tcp_port, "ws": self.ws_port}
        ports["wss"] = self.wss_port
        if transport not in ports:
            raise ValueError(f"unknown transport {transport!r}")
        port = ports[transport]
        return f"sip:{self.host}:{port};transport={transport};lr"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the suite's CA (for wss)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    # ----- lifecycle

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float | None = None) -> None:
        """Start Kamailio and wait until every port answers.

        The first start picks free ports; later ones (after kill()/stop()) reuse them.
        """
        if self.running:
            raise KamailioError("Kamailio is already running")
        if self._binary is None:
            self._binary = ensure_installed()
        timeout = self.settings.start_timeout if timeout is None else timeout
        fresh_ports = self._ports is None
        attempts = 3 if fresh_ports else 1
        for attempt in range(attempts):
            if fresh_ports:
                self._ports = _pick_free_ports()
            self._prepare()
            try:
                self._spawn_and_wait(timeout)
                return
            except KamailioError:
                # another process may have grabbed a port between picking and binding
                if attempt + 1 < attempts and self._bind_failed():
                    continue
                raise

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it is still there after timeout; waits for every worker."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self._kill_group(process)

    def kill(self) -> None:
        """SIGKILL the whole Kamailio (a crash): every registration it held is gone."""
        process = self._process
        if process is None:
            return
        self._kill_group(process)

    def restart(self, *, graceful: bool = False, timeout: float | None = None) -> None:
        """Kill (or stop, if graceful) and start again on the same ports."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start(timeout)

    # ----- control

    def rpc(self, *args: str, timeout: float = 5.0) -> str:
        """Run one RPC command over the ctl socket (``kamcmd``) and return its output."""
        kamcmd = _which("kamcmd")
        if kamcmd is None:
            raise KamailioError("kamcmd not found")
        result = subprocess.run(
            [kamcmd, "-s", f"unixs:{self.ctl_socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0 or result.stdout.startswith("error:"):
            raise KamailioError(
                f"kamcmd {' '.join(args)} failed ({result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )
        return result.stdout

    def ws_connections(self) -> list[dict[str, str]]:
        """The open WebSocket connections (``ws.dump``, first 50).

        Each: id, proto (ws/wss), src_ip, src_port (the client's), dst_ip,
        dst_port (ours), state, sub_protocol.
        """
        output = self.rpc("ws.dump")
        # 4: ws:127.0.0.1:50722 -> ws:127.0.0.1:36919 (state: OPEN,  last used 0s ago, ...
        pattern = re.compile(
            r"^\s*(?P<id>\d+):\s*(?P<proto>\w+):(?P<src_ip>[^\s]+):(?P<src_port>\d+)\s*->\s*"
            r"\w+:(?P<dst_ip>[^\s]+):(?P<dst_port>\d+)\s*\(state:\s*(?P<state>\w+)"
            r"(?:.*sub-protocol:\s*(?P<sub_protocol>\w+))?",
            re.MULTILINE,
        )
        return [
            {key: value or "" for key, value in match.groupdict().items()}
            for match in pattern.finditer(output)
        ]

    def _ws_connection_for(self, client_port: int) -> dict[str, str]:
        for connection in self.ws_connections():
            if connection.get("src_port") == str(client_port):
                return connection
        raise KamailioError(f"no WebSocket connection from client port {client_port}")

    def close_ws(self, client_port: int) -> None:
        """Server-side close of the WebSocket connection coming from ``client_port``.

        Kamailio sends a Close frame (1000) and drops the TCP connection; the
        registrations made over it are removed (usrloc handle_lost_tcp).
        """
        connection = self._ws_connection_for(client_port)
        self.rpc("ws.close", connection["id"])

    def drop_connection(self, client_port: int) -> None:
        """Abruptly reset the server side of the TCP/TLS/WS connection from ``client_port``.

        Uses the kernel's socket destroy (``ss -K``, needs root and
        CONFIG_INET_DIAG_DESTROY): the client sees a RST, no Close frame.
        """
        ss = _which("ss")
        if ss is None:
            raise KamailioError("ss (iproute2) not found")
        local_ports = (self.tcp_port, self.ws_port, self.wss_port)
        port_filter = " or ".join(f"sport = :{port}" for port in local_ports)
        result = subprocess.run(
            [ss, "-K", "-t", "-n", f"( {port_filter} ) and dport = :{client_port}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode != 0 or str(client_port) not in result.stdout:
            raise KamailioError(
                f"could not reset the connection from port {client_port}: "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )

    def contacts(self, user: str) -> list[str]:
        """Contact URIs registered for ``user`` right now (``ul.lookup``)."""
        try:
            output = self.rpc("ul.lookup", "location", user)
        except KamailioError as error:
            text = str(error).lower()
            if "not found" in text or "no contacts" in text:
                return []
            raise
        return re.findall(r"Address:\s*(\S+)", output)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ----- internals

    def _prepare(self) -> None:
        """Write certs and db once; the config whenever the ports are (re)picked."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        if not self._prepared:
            self.ca = trustme.CA()
            leaf = self.ca.issue_cert(LOOPBACK, "localhost")
            self.ca.cert_pem.write_to_path(str(self.ca_file))
            leaf.private_key_pem.write_to_path(str(self.key_file))
            self.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
            self.key_file.chmod(0o600)
            create_user_db(self.db_path, self.domain, self.users)
            self._prepared = True
        directory = modules_dir()
        if directory is None:
            raise KamailioError("Kamailio modules not found")
        ports = self.ports
        settings = self.settings
        values: dict[str, object] = {
            "UDP_PORT": ports.udp,
            "TCP_PORT": ports.tcp,
            "WS_PORT": ports.ws,
            "WSS_PORT": ports.wss,
            "DOMAIN": settings.domain,
            # db_sqlite takes what follows "sqlite://" minus one more "/" as the
            # path: an absolute path needs four slashes, sqlite:////abs/path
            "DB_URL": f"sqlite:///{self.db_path}",
            "TLS_CERT": self.cert_file,
            "TLS_KEY": self.key_file,
            "CTL_SOCKET": self.ctl_socket,
            "MODULES_DIR": directory,
            "LOG_LEVEL": settings.log_level,
            "CHILDREN": settings.children,
            "TCP_CHILDREN": settings.tcp_children,
            "TCP_MAX_CONNECTIONS": settings.tcp_max_connections,
            "TLS_MAX_CONNECTIONS": settings.tls_max_connections,
            "OPEN_FILES": settings.open_files or _default_open_files(),
            "MIN_EXPIRES": settings.min_expires,
            "MIN_EXPIRES_MODE": settings.min_expires_mode,
            "DEFAULT_EXPIRES": settings.default_expires,
            "MAX_EXPIRES": settings.max_expires,
            "MAX_CONTACTS": settings.max_contacts,
            "NONCE_EXPIRE": settings.nonce_expire,
            "WS_KEEPALIVE_TIMEOUT": settings.ws_keepalive_timeout,
        }
        self.config_path.write_text(render_config(CONFIG_TEMPLATE.read_text(), values))

    def _command(self) -> list[str]:
        assert self._binary is not None
        return [
            self._binary,
            "-DD",  # stay in the foreground, do not daemonize
            "-E",  # log to stderr (our log file)
            "-f",
            str(self.config_path),
            "-P",
            str(self.pid_file),
            "-Y",
            str(self.runtime_dir),
            "-w",
            str(self.workdir),
            "-m",
            str(self.settings.shm_mb),
            "-M",
            str(self.settings.pkg_mb),
            "-a",
            "no",
        ]

    def _spawn_and_wait(self, timeout: float) -> None:
        for stale in (self.pid_file, self.ctl_socket):
            stale.unlink(missing_ok=True)
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(
                f"\n===== start {time.strftime('%H:%M:%S')} ports {self.ports} =====\n".encode()
            )
            log.flush()
            self._log_offset = log.tell()
            self._process = subprocess.Popen(  # the suite's own Kamailio, ours to kill
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # own process group: killpg reaches the workers
            )
        try:
            self._wait_ready(began + timeout)
        except BaseException:
            self._kill_group(self._process)
            raise
        self.startup_seconds = time.monotonic() - began

    def _wait_ready(self, deadline: float) -> None:
        process = self._process
        assert process is not None
        tls = self.client_ssl_context()
        pending = {"udp", "tcp", "ws", "wss", "ctl"}
        while True:
            if process.poll() is not None:
                raise KamailioError(
                    f"Kamailio exited with status {process.returncode} while starting "
                    f"(config {self.config_path}); its log:\n{self._log_since_start()}"
                )
            if "udp" in pending and _options_ping(self.udp_port, 0.2):
                pending.discard("udp")
            if "tcp" in pending and _tcp_accepts(self.tcp_port, 0.5):
                pending.discard("tcp")
            if "ws" in pending and _tcp_accepts(self.ws_port, 0.5):
                pending.discard("ws")
            if "wss" in pending and _tcp_accepts(self.wss_port, 1.0, tls):
                pending.discard("wss")
            if "ctl" in pending and self.ctl_socket.exists():
                pending.discard("ctl")
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KamailioError(
                    f"Kamailio did not become ready (still waiting for {sorted(pending)} on "
                    f"udp {self.udp_port}, tcp {self.tcp_port}, ws {self.ws_port}, "
                    f"wss {self.wss_port}); its log:\n{self._log_since_start()}"
                )
            time.sleep(0.05)

    def _log_since_start(self, limit: int = 8000) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return text[-limit:] if text else "(empty)"

    def _bind_failed(self) -> bool:
        text = self._log_since_start()
        return "Address already in use" in text

    def _kill_group(self, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        deadline = time.monotonic() + timeout
        while _group_alive(process.pid):
            if time.monotonic() > deadline:
                raise KamailioError(f"Kamailio's workers (group {process.pid}) did not die")
            time.sleep(0.02)
