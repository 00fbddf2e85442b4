"""Parent and child sessions across processes on one host (guide section 5.10).

The guide's "Multitab Scenarios" become processes (or several instances in one process)
sharing one account on one host. Section 5.10: "Maintain a parent-child relationship
across the tabs ... so that call is handled only in the parent tab"; the listener
"sends a broadcast event to each child tab for the following events, incoming /
connected / callEnded / re-register", and "When the parent tab is destroyed, a
re-register event comes to child tabs". (The JS SDK 2.0.5 only listens and leaves the
arbitration to the app; the guide wins, so here the SDK does the arbitration.)

How it works, with local IPC only:

* **Election.** The parent holds an exclusive ``flock`` on a lock file. The kernel
  drops that lock when the holder's last descriptor closes, which includes ``kill -9``:
  the lock *is* the liveness signal, and no heartbeat or timeout is involved. ``flock``
  locks belong to an open file description, so two coordinators in one process (each
  opens its own) exclude each other too; POSIX ``fcntl``/``lockf`` locks, which belong
  to the process, would not.
* **Fan-out.** The parent listens on a Unix stream socket next to the lock; children
  connect to it and receive JSON lines. When the parent dies, its sockets close, the
  children read EOF at once and race for the lock. Exactly one wins, binds the socket
  (replacing the dead parent's file, which only the lock holder may touch) and reports
  ``"re-register"``; the others connect to it.
* **Security.** The runtime directory is ``0700`` and must belong to us, the socket is
  ``0600``, and each side checks the peer's uid (``SO_PEERCRED``) and refuses others.
  File names are a hash of the account key: no user text reaches a path.

Threads: each started coordinator runs one I/O thread (a ``selectors`` loop over
non-blocking sockets; it never runs user code) and one delivery thread that calls the
callbacks in order. So a slow callback (``DoRegister`` from ``on_become_parent``) never
stalls the IPC, and a slow or stuck child never stalls the parent: its bytes wait in a
bounded buffer and it is dropped when that overflows. The facade is synchronous and
owns its own event loop thread; a self-contained pair of threads keeps this module
usable from any thread, independent of that loop's lifetime.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import functools
import hashlib
import json
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "SessionCoordinator",
    "SessionRole",
    "SessionEventCallback",
    "BROADCAST_CALL_STATES",
    "REREGISTER",
    "PROTOCOL_VERSION",
    "default_runtime_dir",
]

logger = logging.getLogger(__name__)

SessionEventCallback = Callable[[str, str], object]
"""``SessionCallback(callState, phone)`` of section 5.10."""

PROTOCOL_VERSION = 1
"""The ``"v"`` field of every line on the socket; lines of another version are ignored."""

BROADCAST_CALL_STATES = frozenset({"incoming", "connected", "callEnded"})
"""What a parent may broadcast (section 5.10: "incoming : child tab to show a
notification message, connected / callEnded : child tab to close the notification")."""

REREGISTER = "re-register"
"""Section 5.10: "re-register : child tab to register when parent tab is closed"."""

_MAX_LINE = 16 * 1024  # one JSON line; a phone name is short
_MAX_PENDING = 256 * 1024  # bytes queued for one child beyond the kernel's buffer
_MAX_QUEUED = 1024  # lines broadcast() may queue before the I/O thread takes them
_RECV_SIZE = 64 * 1024
_BACKLOG = 64
_RETRY_INTERVAL = 0.02  # while orphaned: how often to try the lock and the socket again
_FAILED_BIND_RETRY = 1.0
_TOUCH_INTERVAL = 600.0  # keep age-based /tmp cleaners away from the parent's files
_HASH_CHARS = 24
_SUN_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)


class SessionRole(enum.Enum):
    """Where a coordinator stands."""

    NEW = "new"
    """Not started yet."""
    PARENT = "parent"
    """Holds the lock and the socket: this instance registers and broadcasts."""
    CHILD = "child"
    """Connected to the parent; receives its broadcasts."""
    ORPHANED = "orphaned"
    """Lost its parent (or found none yet); retrying the lock and the socket."""
    CLOSED = "closed"
    """``close()`` was called, or the process forked and this is the copy."""


@dataclasses.dataclass(slots=True, eq=False)
class _Peer:
    """One end of a parent-child connection, as seen from this coordinator."""

    sock: socket.socket
    pid: int
    inbuf: bytearray = dataclasses.field(default_factory=bytearray)
    outbuf: bytearray = dataclasses.field(default_factory=bytearray)
    writing: bool = False
    complaints: int = 0


def default_runtime_dir() -> Path:
    """The directory sessions use when none is given.

    Returns:
        ``$XDG_RUNTIME_DIR/exotel-voice`` when that variable names a directory (it is
        per-user, private and never cleaned by age), else ``exotel-voice-<uid>`` in the
        temporary directory (``/tmp``).
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg) / "exotel-voice"
    return Path(tempfile.gettempdir()) / f"exotel-voice-{os.geteuid()}"


class SessionCoordinator:
    """One instance of an account on this host: the parent, or a child of it.

    Instances built with the same ``account_key`` and runtime directory coordinate
    (across processes and within one); different keys are independent. Callbacks run
    on the coordinator's delivery thread, in the order things happened, and never
    after ``close()`` has returned. Exceptions they raise are logged and swallowed.

    Args:
        account_key: Identifies the account, e.g. ``"alice@example.com"``. Only its
            hash appears in file names.
        on_session_event: ``SessionCallback(callState, phone)``: a child hears
            ``"incoming"``, ``"connected"`` and ``"callEnded"`` broadcast by the parent;
            the child that takes over from a departed parent hears ``"re-register"``.
        runtime_dir: Where the lock and socket live; default ``default_runtime_dir()``.
            Created ``0700`` if missing; if it exists it must be ours and private.
        auto_reregister: When this instance takes over as parent, also call
            ``on_become_parent()`` (after the ``"re-register"`` event).
        on_become_parent: What to run on take-over when ``auto_reregister`` is set;
            the facade passes a function that calls ``DoRegister``.
        phone: The ``phone`` argument of ``"re-register"`` events (the guide's
            "username identifying the phone"); default ``account_key``.

    Raises:
        ValueError: ``account_key`` is empty, ``auto_reregister`` is set without
            ``on_become_parent``, or the socket path would be too long for
            ``sun_path`` (choose a shorter ``runtime_dir``).
        TypeError: a callback is not callable.
    """

    def __init__(
        self,
        account_key: str,
        on_session_event: SessionEventCallback,
        *,
        runtime_dir: Path | None = None,
        auto_reregister: bool = False,
        on_become_parent: Callable[[], object] | None = None,
        phone: str | None = None,
    ) -> None:
        if not isinstance(account_key, str) or not account_key:
            raise ValueError("account_key must be a non-empty string")
        if not callable(on_session_event):
            raise TypeError("on_session_event must be callable")
        if on_become_parent is not None and not callable(on_become_parent):
            raise TypeError("on_become_parent must be callable")
        if auto_reregister and on_become_parent is None:
            raise ValueError("auto_reregister needs on_become_parent (what registers)")
        self._on_session_event = on_session_event
        self._on_become_parent = on_become_parent if auto_reregister else None
        self._phone = account_key if phone is None else phone
        self._dir = Path(runtime_dir) if runtime_dir is not None else default_runtime_dir()
        digest = hashlib.sha256(b"exotel-voice/session\0" + account_key.encode()).hexdigest()
        name = digest[:_HASH_CHARS]
        self._tag = name[:8]  # for log lines: the key itself stays out of them
        self._lock_path = self._dir / f"{name}.lock"
        self._socket_path = self._dir / f"{name}.sock"
        if len(os.fsencode(self._socket_path)) > _SUN_PATH_MAX:
            raise ValueError(
                f"socket path {self._socket_path} is longer than {_SUN_PATH_MAX} bytes; "
                "use a shorter runtime_dir"
            )

        self._role = SessionRole.NEW
        self._state_lock = threading.Lock()
        self._close_started = False
        self._closing = threading.Event()
        self._deliveries_open = True
        self._lock_fd = -1
        self._listener: socket.socket | None = None
        self._socket_ino = -1
        self._parent: _Peer | None = None
        self._children: dict[socket.socket, _Peer] = {}
        self._outbox: deque[bytes] = deque()
        self._next_attempt = 0.0
        self._next_touch = 0.0
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._deliveries: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._io_thread: threading.Thread | None = None
        self._delivery_thread: threading.Thread | None = None

    # ----------------------------------------------------------------- properties

    @property
    def role(self) -> SessionRole:
        """The current role (changes on the I/O thread)."""
        return self._role

    @property
    def is_parent(self) -> bool:
        """Whether this instance is the parent: the one that registers and broadcasts."""
        return self._role is SessionRole.PARENT

    @property
    def child_count(self) -> int:
        """How many children are connected (always 0 unless this is the parent)."""
        return len(self._children)

    @property
    def runtime_dir(self) -> Path:
        """The directory holding the lock and the socket."""
        return self._dir

    @property
    def socket_path(self) -> Path:
        """The parent's Unix socket (a hash of the account key)."""
        return self._socket_path

    @property
    def lock_path(self) -> Path:
        """The lock file whose ``flock`` holder is the parent. It is never deleted:
        deleting a lock file lets two holders lock two different inodes."""
        return self._lock_path

    # ----------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 2.0) -> bool:
        """Join the account's session: become the parent, or connect as a child.

        Tries the lock, then the socket, until one works or ``timeout`` passes (a
        parent may hold the lock but not be listening yet). If neither worked, the
        coordinator keeps trying in the background, and if it then becomes the parent
        it reports ``"re-register"`` like any child that takes over. Becoming the
        parent here, in ``start()``, reports nothing: the caller reads the result.

        Args:
            timeout: Seconds to keep trying before returning.

        Returns:
            Whether this instance is the parent (``is_parent``).

        Raises:
            RuntimeError: already started, or closed.
            PermissionError: the runtime directory is not ours or is open to others.
            OSError: the directory or lock file cannot be created, or the socket
                cannot be bound.
        """
        with self._state_lock:
            if self._role is not SessionRole.NEW or self._close_started:
                raise RuntimeError(f"session coordinator is {self._role.value}, cannot start")
            try:
                _ensure_private_dir(self._dir)
                self._lock_fd = os.open(
                    self._lock_path,
                    os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                    0o600,
                )
                self._wake_r, self._wake_w = socket.socketpair()
                self._wake_r.setblocking(False)
                self._wake_w.setblocking(False)
                deadline = time.monotonic() + timeout
                role = self._attempt()
                while role is None and time.monotonic() < deadline:
                    time.sleep(_RETRY_INTERVAL)
                    role = self._attempt()
            except BaseException:
                self._release_resources()
                raise
            if role is None:
                logger.warning(
                    "session %s: no parent answered within %.1f s; retrying in the background",
                    self._tag,
                    timeout,
                )
                role = SessionRole.ORPHANED
            self._role = role
            self._selector = selectors.DefaultSelector()
            _close_copies_after_fork(self)
            self._delivery_thread = threading.Thread(
                target=self._delivery_main, name=f"exotel-session-cb-{self._tag}", daemon=True
            )
            self._io_thread = threading.Thread(
                target=self._io_main, name=f"exotel-session-io-{self._tag}", daemon=True
            )
            self._delivery_thread.start()
            self._io_thread.start()
            logger.info("session %s: started as %s", self._tag, role.value)
            return role is SessionRole.PARENT

    def close(self, timeout: float = 5.0) -> None:
        """Leave the session. Idempotent; safe from a callback.

        A parent removes its socket and releases the lock before it disconnects its
        children, so they elect a new parent at once. A child just disconnects. No
        callback runs after this returns (unless called from that callback).

        Args:
            timeout: Seconds to wait for each of the two threads to finish.
        """
        with self._state_lock:
            if self._close_started:
                return
            self._close_started = True
            self._deliveries_open = False
            if self._role is SessionRole.NEW:
                self._role = SessionRole.CLOSED
                return
        self._closing.set()
        self._wake()
        current = threading.current_thread()
        if self._io_thread is not None and self._io_thread is not current:
            self._io_thread.join(timeout)
        self._deliveries.put(None)
        if self._delivery_thread is not None and self._delivery_thread is not current:
            self._delivery_thread.join(timeout)
            if self._delivery_thread.is_alive():
                logger.warning("session %s: a session callback is still running", self._tag)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- broadcast

    def broadcast(self, call_state: str, phone: str) -> bool:
        """Tell every child about a call (the parent's side of section 5.10).

        Never blocks: the line is queued for the I/O thread, which first accepts any
        child whose ``connect`` has already completed (so a child whose ``start()``
        returned before this call hears it), then writes to every child without
        blocking. A child that cannot keep up is dropped.

        Args:
            call_state: ``"incoming"``, ``"connected"`` or ``"callEnded"``.
            phone: The guide's "username identifying the phone".

        Returns:
            True if queued; False if this instance is not the parent, or if the I/O
            thread is so far behind that 1024 lines already wait (nothing is sent).

        Raises:
            ValueError: ``call_state`` is not one of the three, or ``phone`` is so long
                the line would exceed the protocol's limit.
            TypeError: ``phone`` is not a string.
        """
        if not isinstance(call_state, str) or call_state not in BROADCAST_CALL_STATES:
            raise ValueError(
                f"call_state must be one of {sorted(BROADCAST_CALL_STATES)}, not {call_state!r}"
            )
        if not isinstance(phone, str):
            raise TypeError("phone must be a string")
        line = _encode(call_state, phone)
        if len(line) > _MAX_LINE:
            raise ValueError(f"phone is too long (the line limit is {_MAX_LINE} bytes)")
        if self._role is not SessionRole.PARENT:
            return False
        if len(self._outbox) >= _MAX_QUEUED:
            logger.warning("session %s: broadcast queue full; dropped %s", self._tag, call_state)
            return False
        self._outbox.append(line)
        self._wake()
        return True

    # ----------------------------------------------------------------- election

    def _attempt(self) -> SessionRole | None:
        """Become the parent if the lock is free, else a child if a parent answers."""
        if self._try_lock():
            try:
                self._listen()
            except BaseException:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                raise
            return SessionRole.PARENT
        sock = self._try_connect()
        if sock is None:
            return None
        self._parent = _Peer(sock, pid=-1)
        return SessionRole.CHILD

    def _try_lock(self) -> bool:
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _listen(self) -> None:
        """Bind the socket. Only the lock holder gets here, so a file at the path is a
        dead parent's and nobody else can be binding or removing it meanwhile."""
        path = self._socket_path
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(found.st_mode):
                raise FileExistsError(f"{path} exists and is not a socket")
            os.unlink(path)
            logger.info("session %s: removed a stale socket file", self._tag)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fspath(path))
            # The directory is 0700, so the umask-dependent moment before this chmod
            # is not reachable by others either.
            os.chmod(path, 0o600)
            listener.listen(_BACKLOG)
            listener.setblocking(False)
            self._socket_ino = os.lstat(path).st_ino
        except BaseException:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        self._listener = listener

    def _try_connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(os.fspath(self._socket_path))
        except (FileNotFoundError, ConnectionError, BlockingIOError, InterruptedError):
            # No socket yet, a dead parent's socket, or a full backlog: try again later.
            sock.close()
            return None
        except BaseException:
            sock.close()
            raise
        if not self._peer_allowed(sock, "parent"):
            sock.close()
            return None
        return sock

    def _peer_allowed(self, sock: socket.socket, what: str) -> bool:
        uid = _peer_uid(sock)
        if uid is None or uid == os.geteuid():
            return True
        logger.warning(
            "session %s: refused a %s running as uid %d (we are uid %d)",
            self._tag,
            what,
            uid,
            os.geteuid(),
        )
        return False

    # ----------------------------------------------------------------- I/O thread

    def _io_main(self) -> None:
        selector = self._selector
        wake_r = self._wake_r
        assert selector is not None
        assert wake_r is not None
        try:
            selector.register(wake_r, selectors.EVENT_READ, self._on_wake)
            self._watch_role()
            while not self._closing.is_set():
                for key, mask in selector.select(self._select_timeout()):
                    handler: Callable[[int], None] = key.data
                    handler(mask)
                self._after_events()
        except Exception:
            logger.exception("session %s: the I/O loop failed; leaving the session", self._tag)
        finally:
            self._teardown()

    def _select_timeout(self) -> float | None:
        if self._role is SessionRole.ORPHANED:
            return max(0.0, self._next_attempt - time.monotonic())
        if self._role is SessionRole.PARENT:
            return max(0.0, self._next_touch - time.monotonic())
        return None

    def _after_events(self) -> None:
        now = time.monotonic()
        if self._role is SessionRole.PARENT:
            if self._outbox:
                self._flush_outbox()
            if now >= self._next_touch:
                self._touch_files(now)
        elif self._role is SessionRole.ORPHANED and now >= self._next_attempt:
            self._retry_election()

    def _watch_role(self) -> None:
        """Register what the current role listens to."""
        selector = self._selector
        assert selector is not None
        if self._role is SessionRole.PARENT and self._listener is not None:
            selector.register(self._listener, selectors.EVENT_READ, self._on_listener)
            self._next_touch = time.monotonic()
        elif self._role is SessionRole.CHILD and self._parent is not None:
            parent = self._parent
            selector.register(
                parent.sock, selectors.EVENT_READ, functools.partial(self._on_parent, parent)
            )
        elif self._role is SessionRole.ORPHANED:
            self._next_attempt = time.monotonic()

    def _retry_election(self) -> None:
        try:
            role = self._attempt()
        except OSError:
            logger.exception("session %s: could not take over as parent", self._tag)
            self._next_attempt = time.monotonic() + _FAILED_BIND_RETRY
            return
        if role is None:
            self._next_attempt = time.monotonic() + _RETRY_INTERVAL
            return
        self._role = role
        self._watch_role()
        logger.info("session %s: now %s", self._tag, role.value)
        if role is SessionRole.PARENT:
            self._deliver(functools.partial(self._on_session_event, REREGISTER, self._phone))
            if self._on_become_parent is not None:
                self._deliver(self._on_become_parent)

    def _on_wake(self, mask: int) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_r.recv(4096):
                pass

    # parent side

    def _on_listener(self, mask: int) -> None:
        self._accept_pending()

    def _accept_pending(self) -> None:
        listener = self._listener
        selector = self._selector
        assert listener is not None
        assert selector is not None
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: the child retries later
                logger.warning("session %s: accept failed: %s", self._tag, exc)
                return
            conn.setblocking(False)
            if not self._peer_allowed(conn, "child"):
                conn.close()
                continue
            peer = _Peer(conn, pid=_peer_pid(conn))
            self._children[conn] = peer
            selector.register(conn, selectors.EVENT_READ, functools.partial(self._on_child, peer))
            logger.debug("session %s: child pid %d joined", self._tag, peer.pid)

    def _on_child(self, peer: _Peer, mask: int) -> None:
        if peer.sock not in self._children:
            return  # dropped earlier in this round
        try:
            if mask & selectors.EVENT_WRITE:
                self._send_pending(peer)
            if mask & selectors.EVENT_READ and peer.sock in self._children:
                lines = self._receive(peer)
                if lines is None:
                    self._drop_child(peer, "disconnected")
                    return
                for line in lines:
                    message = self._decode(peer, line)
                    if message is not None:
                        logger.debug(
                            "session %s: ignored %r from child pid %d",
                            self._tag,
                            message.get("type"),
                            peer.pid,
                        )
        except Exception:
            logger.exception("session %s: dropping child pid %d", self._tag, peer.pid)
            self._drop_child(peer, "failed")

    def _flush_outbox(self) -> None:
        self._accept_pending()
        while self._outbox:
            line = self._outbox.popleft()
            for peer in list(self._children.values()):
                peer.outbuf += line
                self._send_pending(peer)

    def _send_pending(self, peer: _Peer) -> None:
        if peer.outbuf:
            try:
                sent = peer.sock.send(peer.outbuf, _SEND_FLAGS)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (BrokenPipeError, ConnectionResetError):
                self._drop_child(peer, "disconnected")
                return
            except OSError as exc:
                self._drop_child(peer, f"send failed ({exc})")
                return
            del peer.outbuf[:sent]
        if len(peer.outbuf) > _MAX_PENDING:
            self._drop_child(peer, "it is not reading (buffer full)")
            return
        writing = bool(peer.outbuf)
        if writing != peer.writing:
            assert self._selector is not None
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            self._selector.modify(peer.sock, events, functools.partial(self._on_child, peer))
            peer.writing = writing

    def _drop_child(self, peer: _Peer, why: str) -> None:
        if self._children.pop(peer.sock, None) is None:
            return
        logger.log(
            logging.DEBUG if why == "disconnected" else logging.WARNING,
            "session %s: dropped child pid %d: %s",
            self._tag,
            peer.pid,
            why,
        )
        self._forget(peer.sock)

    def _touch_files(self, now: float) -> None:
        """Refresh the files' times so age-based cleaners (systemd-tmpfiles on /tmp)
        never delete a live parent's socket or lock file."""
        self._next_touch = now + _TOUCH_INTERVAL
        for path in (self._lock_path, self._socket_path):
            with contextlib.suppress(OSError):
                os.utime(path)

    # child side

    def _on_parent(self, peer: _Peer, mask: int) -> None:
        if self._parent is not peer:
            return
        lines = self._receive(peer)
        if lines is None:
            self._parent = None
            self._forget(peer.sock)
            self._role = SessionRole.ORPHANED
            self._next_attempt = time.monotonic()
            logger.info("session %s: the parent went away; electing a new one", self._tag)
            return
        for line in lines:
            message = self._decode(peer, line)
            if message is None:
                continue
            call_state, phone = message.get("callState"), message.get("phone")
            if (
                message.get("type") != "session"
                or not isinstance(call_state, str)
                or call_state not in BROADCAST_CALL_STATES
                or not isinstance(phone, str)
            ):
                self._complain(peer, "an unexpected message")
                continue
            self._deliver(functools.partial(self._on_session_event, call_state, phone))

    # both sides

    def _receive(self, peer: _Peer) -> list[bytes] | None:
        """Complete lines from ``peer``; None once it is gone or sent an overlong line."""
        try:
            data = peer.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            logger.debug("session %s: receive failed: %s", self._tag, exc)
            return None
        if not data:
            return None
        peer.inbuf += data
        *lines, rest = peer.inbuf.split(b"\n")
        if len(rest) > _MAX_LINE:
            logger.warning(
                "session %s: a peer sent a line longer than %d bytes", self._tag, _MAX_LINE
            )
            return None
        peer.inbuf = rest
        return [bytes(line) for line in lines]

    def _decode(self, peer: _Peer, line: bytes) -> dict[str, object] | None:
        """One JSON line of our version, or None (logged) if it is anything else."""
        if not line.strip():
            return None
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            message = None
        version = message.get("v") if isinstance(message, dict) else None
        if type(version) is not int or version != PROTOCOL_VERSION:
            self._complain(peer, "a malformed line or another protocol version")
            return None
        assert isinstance(message, dict)
        return message

    def _complain(self, peer: _Peer, what: str) -> None:
        peer.complaints += 1
        logger.log(
            logging.WARNING if peer.complaints == 1 else logging.DEBUG,
            "session %s: ignored %s from pid %d",
            self._tag,
            what,
            peer.pid,
        )

    def _forget(self, sock: socket.socket) -> None:
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
        sock.close()

    def _teardown(self) -> None:
        """Leave in the order that lets the children take over fastest: socket file,
        then lock, then the connections (their EOF starts the election)."""
        with self._state_lock:
            self._deliveries_open = False
            if self._listener is not None:
                self._forget(self._listener)
                self._listener = None
                with contextlib.suppress(OSError):
                    if os.lstat(self._socket_path).st_ino == self._socket_ino:
                        os.unlink(self._socket_path)
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = -1
            for peer in list(self._children.values()):
                self._forget(peer.sock)
            self._children.clear()
            if self._parent is not None:
                self._forget(self._parent.sock)
                self._parent = None
            self._release_resources()
            self._role = SessionRole.CLOSED
            logger.info("session %s: closed", self._tag)

    def _release_resources(self) -> None:
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _abandon_after_fork(self) -> None:
        """In a forked copy of the process: close our copies of the lock and sockets
        without unlocking, shutting down or unlinking anything (that would act on the
        original's objects). Otherwise the copy would keep the lock held and the
        connections open after the original dies, and nobody would take over."""
        self._role = SessionRole.CLOSED
        self._close_started = True
        self._deliveries_open = False
        self._closing.set()
        self._state_lock = threading.Lock()  # may have been held by a thread that is gone
        for sock in [self._listener, *self._children, self._wake_r, self._wake_w]:
            if sock is not None:
                sock.close()
        if self._parent is not None:
            self._parent.sock.close()
        self._listener = self._parent = self._wake_r = self._wake_w = None
        self._children = {}
        if self._selector is not None:
            with contextlib.suppress(OSError):
                self._selector.close()
            self._selector = None
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1

    def _wake(self) -> None:
        wake_w = self._wake_w
        if wake_w is None:
            return
        with contextlib.suppress(OSError):  # full (a wake-up is pending) or closed
            wake_w.send(b"\0")

    # ----------------------------------------------------------------- delivery thread

    def _deliver(self, call: Callable[[], object]) -> None:
        self._deliveries.put(call)

    def _delivery_main(self) -> None:
        while True:
            call = self._deliveries.get()
            if call is None or not self._deliveries_open:
                return
            try:
                call()
            except Exception:
                logger.exception("session %s: a session callback raised", self._tag)


def _encode(call_state: str, phone: str) -> bytes:
    message = {"v": PROTOCOL_VERSION, "type": "session", "callState": call_state, "phone": phone}
    # ensure_ascii: no raw newline or odd byte can appear inside a line.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


def _ensure_private_dir(path: Path) -> None:
    """Create ``path`` 0700, or check an existing one is ours, private and no symlink.

    Raises:
        PermissionError: it is a symlink or not a directory, belongs to another user,
            or is open to group or others (we refuse rather than chmod someone's dir).
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700)  # mkdir's mode went through the umask
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode):
        raise PermissionError(f"session directory {path} is not a directory (or is a symlink)")
    if found.st_uid != os.geteuid():
        raise PermissionError(f"session directory {path} belongs to uid {found.st_uid}")
    if stat.S_IMODE(found.st_mode) & 0o077:
        raise PermissionError(
            f"session directory {path} is open to others "
            f"(mode {stat.S_IMODE(found.st_mode):o}); it must be 0700"
        )


def _peer_credentials(sock: socket.socket) -> tuple[int, int] | None:
    """``(pid, uid)`` of the process at the other end, or None where unsupported."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t; uid_t; gid_t}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII"))
        pid, uid, _gid = struct.unpack("iII", raw)
        return pid, uid
    local_peercred = getattr(socket, "LOCAL_PEERCRED", None)
    if local_peercred is not None:  # macOS/BSD: struct xucred {u_int version; uid_t uid; ...}
        raw = sock.getsockopt(0, local_peercred, 128)  # level SOL_LOCAL == 0
        _version, uid = struct.unpack_from("II", raw)
        return -1, uid
    return None


def _peer_uid(sock: socket.socket) -> int | None:
    credentials = _peer_credentials(sock)
    return None if credentials is None else credentials[1]


def _peer_pid(sock: socket.socket) -> int:
    credentials = _peer_credentials(sock)
    return -1 if credentials is None else credentials[0]


def _close_copies_after_fork(coordinator: SessionCoordinator) -> None:
    """Have a ``fork()``ed copy of this process drop its copies of our descriptors.

    The hook holds the coordinator weakly, so it costs nothing once it is gone.
    (A hook cannot be unregistered; each started coordinator adds a tiny one.)
    """
    ref = weakref.ref(coordinator)

    def after_in_child() -> None:
        alive = ref()
        if alive is not None:
            alive._abandon_after_fork()

    os.register_at_fork(after_in_child=after_in_child)
