"""The driver: one loop that feeds a sans-IO ``UserAgent`` with bytes and time.

aioquic's ``QuicConnectionProtocol`` shape, in structured tasks:

- a reader per connection: ``ua.receive_message(data, now)`` for every message;
- a writer per connection, the only task that sends: it drains ``ua.messages_to_send()``
  whenever it is woken, so what the UA queued goes out in order even if the task that
  asked is cancelled (the queue lives in the UA until the writer takes it);
- one timer task sleeping until ``min(ua.get_timer(), keepalive)`` (re-armed whenever
  anything changes), calling ``ua.handle_timer(now)`` with ``now = max(deadline,
  clock())`` so a timer never fires early.

Events (sipcore's and the driver's own) come out of one async iterator, in order.

It also owns the connection's life: keepalives (a WebSocket Ping or a CRLF ping when the
line is idle, so a dead connection is noticed within ``keepalive_interval +
keepalive_timeout``), reconnection with exponential backoff and jitter after a loss
(re-registering on the new flow, RFC 5626 §4.4.1, and refreshing the target of
established calls, see ``descriptions``), and a graceful close that hangs up calls and
unregisters before the socket goes. The same code runs on asyncio and trio.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sipadapters.descriptions import SentDescriptions
from sipadapters.errors import TransportError
from sipadapters.events import (
    Connected,
    ConnectFailed,
    ConnectionLost,
    DriverEvent,
    ReconnectAbandoned,
    ReconnectScheduled,
    TargetRefreshSent,
)
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.transport import MessageTransport
from sipcore.call_state import CallState
from sipcore.errors import LocalProtocolError
from sipcore.events import Event, FlowFailed, Registered, RegistrationFailed
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent

__all__ = ["UserAgentDriver", "AnyEvent", "Connector"]

logger = logging.getLogger(__name__)

AnyEvent = Event | DriverEvent
"""What ``UserAgentDriver.events()`` yields: sipcore's events and connection events."""

Connector = Callable[[], Awaitable[MessageTransport]]
"""Opens a new transport; raises ``TransportError`` (``ConnectError``) when it cannot."""


class UserAgentDriver:
    """Runs a ``UserAgent`` over a transport, in the current event loop (asyncio or trio).

    Use it as an async context manager (``start`` and ``aclose`` must run in the same
    task, which ``async with`` guarantees)::

        async with UserAgentDriver(ua, lambda: open_transport(url)) as driver:
            ua.register(driver.now())
            await driver.transmit()
            async for event in driver.events():
                ...

    Args:
        ua: the user agent to drive.
        connect: opens a new transport (called again for each reconnection).
        url: for reports only.
        reconnect: what to do when the connection is lost. The backoff starts over
            once a connection has lasted ``reconnect.maximum`` seconds; ``max_attempts``
            counts connection attempts that failed in a row.
        keepalive_interval: send a keepalive after this many idle seconds (None: never).
        keepalive_timeout: a reliable connection is dead if nothing arrives this long
            after a keepalive (over UDP, silence proves nothing: pings only hold NAT
            bindings open).
        random: a number in [0, 1) for backoff jitter (tests pass a fixed one).
        refresh_targets: after a reconnection, send each established call a re-INVITE
            repeating our session description, so that the peer's requests reach the
            new connection (``TargetRefreshSent``).
    """

    def __init__(
        self,
        ua: UserAgent,
        connect: Connector,
        *,
        url: str = "",
        reconnect: ReconnectPolicy | None = None,
        keepalive_interval: float | None = 30.0,
        keepalive_timeout: float = 10.0,
        random: Callable[[], float] | None = None,
        refresh_targets: bool = True,
    ) -> None:
        self.ua = ua
        self._connect = connect
        self._url = url
        self._policy = reconnect or ReconnectPolicy()
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._random = random or (lambda: secrets.randbits(32) / 2**32)
        self._refresh_targets = refresh_targets
        self._descriptions = SentDescriptions()
        self._transport: MessageTransport | None = None
        self._generation = 0
        # The connection's tasks and the timer are shielded from the caller's cancellation,
        # so that aclose() can still say goodbye when the enclosing scope is cancelled;
        # they stop when these scopes are cancelled (on loss, and in aclose()).
        self._connection_scope = anyio.CancelScope(shield=True)
        self._timer_scope = anyio.CancelScope(shield=True)
        self._connected_at = 0.0
        # Backoff: the level rises with each attempt and starts over once a connection
        # has lasted ``maximum`` seconds (so a flapping server is not hammered); the
        # failures count connection attempts that failed in a row (``max_attempts``).
        self._backoff_level = 0
        self._failures = 0
        # Wake-ups: the timer task, the writer, and aclose() waiting for the UA to settle.
        self._wake = anyio.Event()
        self._outgoing = anyio.Event()
        self._changed = anyio.Event()
        # Keepalive: when the unanswered ping went out, when the last one went out.
        self._ping_sent_at: float | None = None
        self._last_ping_at = -math.inf
        self._ping_due = False
        self._closing = False
        self._closed = False
        self._auth_refused = False
        self._events_in: MemoryObjectSendStream[AnyEvent]
        self._events_out: MemoryObjectReceiveStream[AnyEvent]
        self._events_in, self._events_out = anyio.create_memory_object_stream[AnyEvent](math.inf)
        self._task_group: anyio.abc.TaskGroup | None = None

    # ================================================================= lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect (raising ``ConnectError`` if the server cannot be reached) and start the loop.

        Emits ``Connected(url, 0)``; tells the UA ``connection_made``.

        Raises:
            ConnectError: the first connection failed (within the transport's timeout).
            RuntimeError: the driver was started before.
        """
        if self._task_group is not None or self._closed:
            raise RuntimeError("a UserAgentDriver can be started only once")
        transport = await self._connect()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._attach(transport, attempt=0)
        task_group.start_soon(self._timer_loop)

    async def aclose(self, grace: float = 3.0) -> None:
        """Hang up every call, unregister, wait up to ``grace`` seconds, then close.

        The goodbye (BYE/CANCEL/reject for each call, then an un-REGISTER) is shielded
        from the caller's cancellation for at most ``grace`` seconds, so that leaving an
        ``async with`` because of a cancellation still says goodbye. No reconnection is
        attempted once closing has begun. The event stream ends after the last event.
        """
        if self._closed:
            return
        self._closing = True
        try:
            with anyio.move_on_after(grace, shield=True):
                await self._say_goodbye()
        finally:
            self._closed = True
            await self._shut_down()

    async def _say_goodbye(self) -> None:
        if self._transport is None:
            return
        now = self.now()
        for call_id in self.ua.calls:
            try:
                self.ua.hangup(call_id, now)
            except LocalProtocolError:
                logger.debug("call %s is already ending", call_id)
        if self.ua.registration_state in (
            RegistrationState.REGISTERED,
            RegistrationState.REGISTERING,
        ):
            self.ua.unregister(now)
        self._kick()
        while self._transport is not None and (self.ua.calls or self._registered()):
            await self._wait_changed()

    async def _shut_down(self) -> None:
        transport, self._transport = self._transport, None
        self._generation += 1
        self._connection_scope.cancel()
        self._timer_scope.cancel()
        try:
            if transport is not None:
                await transport.aclose()  # shields itself (a Close frame, at most 1 s)
            task_group, self._task_group = self._task_group, None
            if task_group is not None:
                # Not in a shielded scope of ours: the task group's scope was entered in
                # start() and must be exited before any scope opened since. Its tasks are
                # all cancelled and close their transports shielded, so this is prompt.
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)
        finally:
            self._deliver_events()
            self._events_in.close()

    # ================================================================= public API

    def now(self) -> float:
        """The event loop's clock: the ``now`` to pass to ``ua`` actions."""
        return anyio.current_time()

    @property
    def connected(self) -> bool:
        """Whether a transport is up right now."""
        return self._transport is not None

    @property
    def transport(self) -> MessageTransport | None:
        """The current transport, if connected."""
        return self._transport

    async def transmit(self) -> None:
        """Deliver the UA's events, wake the writer and re-arm the timer.

        Call it after every ``ua`` action. The writer sends what the UA queued, in
        order, even if the caller is cancelled after this returns. Never raises: a
        send failure counts as a lost connection (and what could not be sent is
        retransmitted or timed out by sipcore).
        """
        self._kick()
        await anyio.lowlevel.checkpoint()

    async def events(self) -> AsyncIterator[AnyEvent]:
        """Every event, in order, until the driver is closed."""
        async for event in self._events_out:
            yield event

    async def next_event(self) -> AnyEvent:
        """The next event.

        Raises:
            anyio.EndOfStream: the driver was closed and every event was read.
        """
        return await self._events_out.receive()

    # ================================================================= events

    def _kick(self) -> None:
        """Something may have changed in the UA: deliver events, send, re-arm the timer."""
        self._deliver_events()
        self._outgoing.set()
        self._wake.set()

    def _emit(self, event: AnyEvent) -> None:
        try:
            self._events_in.send_nowait(event)
        except anyio.ClosedResourceError:
            logger.debug("event after close dropped: %r", event)
        self._changed.set()

    def _deliver_events(self) -> None:
        flow_failed = False
        while (event := self.ua.next_event()) is not None:
            self._descriptions.event(event)
            if isinstance(event, Registered):
                self._auth_refused = False
            elif isinstance(event, RegistrationFailed) and event.auth_rejected:
                # Coming back would only be refused again: the JS SDK's endless retry
                # on a wrong password is exactly what we avoid.
                self._auth_refused = True
            elif isinstance(event, FlowFailed):
                flow_failed = True
            self._emit(event)
        if flow_failed and self._transport is not None:
            # RFC 5626 §4.4.1: "If a pong is not received ... the flow has failed."
            error = TransportError("no answer to the CRLF keepalive (RFC 5626 §4.4.1)")
            self._lose(self._transport, error)

    async def _wait_changed(self) -> None:
        self._changed = anyio.Event()
        await self._changed.wait()

    # ================================================================= connections

    def _attach(self, transport: MessageTransport, attempt: int) -> None:
        assert self._task_group is not None
        self._deliver_events()
        self._generation += 1
        self._transport = transport
        self._connected_at = self.now()
        self._failures = 0
        self._ping_sent_at = None
        self._last_ping_at = -math.inf
        self._ping_due = False
        self._emit(Connected(self._url, attempt))
        self.ua.connection_made(self.now())
        if attempt > 0 and self._refresh_targets:
            self._refresh_calls()
        self._connection_scope = anyio.CancelScope(shield=True)
        self._task_group.start_soon(
            self._serve, transport, self._generation, self._connection_scope
        )
        self._kick()

    def _refresh_calls(self) -> None:
        # RFC 5626 §4.4.1 re-registers the new flow, but dialogs keep the old remote
        # target (our Contact as aliased by the proxy to the dead connection): only a
        # target refresh request (RFC 3261 §12.2) moves them.
        self._deliver_events()
        now = self.now()
        for call_id, call in self.ua.calls.items():
            if call.state is not CallState.ESTABLISHED:
                continue
            description = self._descriptions.current(call_id)
            if description is None:
                logger.warning("call %s: no session description sent yet, target kept", call_id)
                continue
            try:
                self.ua.reinvite(call_id, now, *description)
            except LocalProtocolError as exc:
                logger.info("call %s: target not refreshed (%s)", call_id, exc)
                continue
            self._emit(TargetRefreshSent(call_id))

    async def _serve(
        self, transport: MessageTransport, generation: int, scope: anyio.CancelScope
    ) -> None:
        try:
            with scope:
                async with anyio.create_task_group() as task_group:
                    task_group.start_soon(self._reader, transport, generation)
                    task_group.start_soon(self._writer, transport, generation)
        finally:
            await transport.aclose()  # shields itself; never raises

    async def _reader(self, transport: MessageTransport, generation: int) -> None:
        while True:
            try:
                data = await transport.receive()
            except TransportError as exc:
                self._lose(transport, exc)
                return
            if generation != self._generation:
                return  # arrived on a connection already given up: the UA has moved on
            self.ua.receive_message(data, self.now())
            self._kick()

    async def _writer(self, transport: MessageTransport, generation: int) -> None:
        while generation == self._generation:
            # Taken from the UA only now, so nothing is lost to a cancelled caller.
            messages = self.ua.messages_to_send(self.now())
            ping, self._ping_due = self._ping_due, False
            if not messages and not ping:
                self._outgoing = anyio.Event()
                await self._outgoing.wait()
                continue
            try:
                for data in messages:
                    await transport.send(data)
                    self._descriptions.sent(data)
                if ping:
                    await transport.ping()
            except TransportError as exc:
                self._lose(transport, exc)
                return

    def _lose(self, transport: MessageTransport, error: BaseException) -> None:
        """The transport died: tell the UA, close it, and start reconnecting (once)."""
        if transport is not self._transport:
            return
        self._deliver_events()  # what happened before the loss is reported before it
        now = self.now()
        self._transport = None
        self._generation += 1
        self._ping_sent_at = None
        self._connection_scope.cancel()  # the reader and writer; _serve closes it
        if now - self._connected_at >= self._policy.maximum:
            self._backoff_level = 0  # it was a working connection: back off from the start
        logger.info("connection to %s lost: %s", self._url, error)
        self.ua.connection_lost(now)
        self._emit(ConnectionLost(self._url, str(error)))
        self._kick()
        if not self._closing and self._task_group is not None:
            self._task_group.start_soon(self._reconnect_loop)

    async def _reconnect_loop(self) -> None:
        policy = self._policy
        if not policy.enabled:
            self._emit(ReconnectAbandoned("reconnection is disabled"))
            return
        while not self._stopping():
            if self._auth_refused:
                self._emit(ReconnectAbandoned("the server refused the credentials"))
                return
            if policy.max_attempts is not None and self._failures >= policy.max_attempts:
                self._emit(ReconnectAbandoned(f"gave up after {policy.max_attempts} attempts"))
                return
            self._backoff_level += 1
            attempt = self._backoff_level
            delay = policy.delay(attempt, self._random())
            self._emit(ReconnectScheduled(attempt, delay))
            await anyio.sleep(delay)
            if self._stopping():
                return
            try:
                transport = await self._connect()
            except TransportError as exc:
                logger.info("reconnection %d to %s failed: %s", attempt, self._url, exc)
                self._failures += 1
                self._emit(ConnectFailed(attempt, str(exc)))
                continue
            if self._stopping():
                await transport.aclose()
                return
            self._attach(transport, attempt)
            return

    def _registered(self) -> bool:
        return self.ua.registration_state is not RegistrationState.UNREGISTERED

    def _stopping(self) -> bool:
        # A method, not the attribute: the flag changes while we await.
        return self._closing

    # ================================================================= timers

    def _keepalive_deadline(self) -> float | None:
        transport = self._transport
        interval = self._keepalive_interval
        if transport is None or interval is None:
            return None
        if self._ping_sent_at is not None:
            if transport.last_activity < self._ping_sent_at:
                return self._ping_sent_at + self._keepalive_timeout
            self._ping_sent_at = None  # answered (any bytes count, not only the pong)
        return max(transport.last_activity, self._last_ping_at) + interval

    def _next_deadline(self) -> float:
        timers = (self.ua.get_timer(), self._keepalive_deadline())
        return min((d for d in timers if d is not None), default=math.inf)

    async def _timer_loop(self) -> None:
        with self._timer_scope:
            while True:
                deadline = self._next_deadline()
                self._wake = anyio.Event()
                with anyio.CancelScope(deadline=deadline) as scope:
                    await self._wake.wait()
                if not scope.cancelled_caught:
                    continue  # something changed: recompute the deadline
                # Clamp now so that a timer never fires before its deadline (STYLE §7).
                now = max(deadline, self.now())
                self._check_keepalive(now)
                timer = self.ua.get_timer()
                if timer is not None and timer <= now:
                    self.ua.handle_timer(now)
                self._kick()

    def _check_keepalive(self, now: float) -> None:
        transport = self._transport
        deadline = self._keepalive_deadline()
        if transport is None or deadline is None or deadline > now:
            return
        if self._ping_sent_at is not None:
            silence = TransportError(f"no answer to a keepalive within {self._keepalive_timeout} s")
            self._lose(transport, silence)
            return
        self._last_ping_at = now
        if transport.reliable:
            self._ping_sent_at = now
        self._ping_due = True  # the writer sends it, after anything already queued
