"""The driver: one loop that feeds a sans-IO ``UserAgent`` with bytes and time.

aioquic's ``QuicConnectionProtocol`` shape: received messages go to
``ua.receive_message(data, now)``; after every step ``transmit()`` drains
``ua.messages_to_send()``; one timer task sleeps until ``ua.get_timer()`` (re-armed
whenever anything changes) and calls ``ua.handle_timer(now)`` with
``now = max(deadline, clock())``. Events come out of an async iterator.

It also owns the connection's life: keepalives (a WebSocket Ping or a CRLF ping when
the line is idle, so a dead connection is noticed within ``keepalive_interval +
keepalive_timeout``), reconnection with exponential backoff and jitter after a loss
(re-registering on the new flow, RFC 5626), and a graceful close that hangs up calls
and unregisters before the socket goes. The same code runs on asyncio and trio.
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
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sipadapters.errors import TransportError
from sipadapters.events import (
    Connected,
    ConnectFailed,
    ConnectionLost,
    DriverEvent,
    ReconnectAbandoned,
    ReconnectScheduled,
)
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.transport import MessageTransport
from sipcore.errors import LocalProtocolError
from sipcore.events import Event, RegistrationFailed
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent

__all__ = ["UserAgentDriver", "AnyEvent"]

logger = logging.getLogger(__name__)

AnyEvent = Event | DriverEvent
"""What ``UserAgentDriver.events()`` yields: sipcore's events and connection events."""

Connector = Callable[[], Awaitable[MessageTransport]]


class UserAgentDriver:
    """Runs a ``UserAgent`` over a transport, in the current event loop (asyncio or trio).

    Use it as an async context manager::

        async with UserAgentDriver(ua, lambda: open_transport(url)) as driver:
            ua.register(driver.now())
            await driver.transmit()
            async for event in driver.events():
                ...

    Args:
        ua: the user agent to drive.
        connect: opens a new transport (called again for each reconnection).
        url: for reports only.
        reconnect: what to do when the connection is lost.
        keepalive_interval: send a keepalive after this many idle seconds (None: never).
        keepalive_timeout: the connection is dead if nothing arrives this long after a
            keepalive.
        random: a number in [0, 1) for backoff jitter (tests pass a fixed one).
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
    ) -> None:
        self.ua = ua
        self._connect = connect
        self._url = url
        self._policy = reconnect or ReconnectPolicy()
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._random = random or (lambda: secrets.randbits(32) / 2**32)
        self._transport: MessageTransport | None = None
        self._generation = 0
        self._send_lock = anyio.Lock()
        self._wake = anyio.Event()
        self._changed = anyio.Event()
        self._ping_sent_at: float | None = None
        self._closing = False
        self._closed = False
        self._auth_refused = False
        self._events_in: MemoryObjectSendStream[AnyEvent]
        self._events_out: MemoryObjectReceiveStream[AnyEvent]
        self._events_in, self._events_out = anyio.create_memory_object_stream[AnyEvent](math.inf)
        self._task_group: anyio.abc.TaskGroup | None = None
        self._lost = anyio.Event()

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

        Raises:
            ConnectError: the first connection failed (within the transport's timeout).
        """
        transport = await self._connect()
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._attach(transport, attempt=0)
        self._task_group.start_soon(self._timer_loop)

    async def aclose(self, grace: float = 3.0) -> None:
        """Hang up every call, unregister, wait up to ``grace`` seconds, then close."""
        if self._closed:
            return
        self._closing = True
        try:
            if self._transport is not None:
                now = self.now()
                for call_id in list(self.ua.calls):
                    try:
                        self.ua.hangup(call_id, now)
                    except LocalProtocolError:
                        logger.debug("call %s could not be hung up", call_id)
                if self.ua.registration_state in (
                    RegistrationState.REGISTERED,
                    RegistrationState.REGISTERING,
                ):
                    self.ua.unregister(now)
                await self.transmit()
                with anyio.move_on_after(grace):
                    while self.ua.calls or self._registered():
                        await self._wait_changed()
        finally:
            self._closed = True
            transport, self._transport = self._transport, None
            if transport is not None:
                await transport.aclose()
            if self._task_group is not None:
                self._task_group.cancel_scope.cancel()
                await self._task_group.__aexit__(None, None, None)
                self._task_group = None
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
        """Send what the UA has queued, deliver its events and re-arm the timer.

        Call it after every ``ua`` action. Never raises: a send failure counts as a lost
        connection (and what could not be sent is retransmitted or timed out by sipcore).
        """
        self._deliver_events()
        transport = self._transport
        if transport is not None:
            async with self._send_lock:
                if transport is self._transport:
                    for data in self.ua.messages_to_send(self.now()):
                        try:
                            await transport.send(data)
                        except TransportError as exc:
                            self._lose(transport, exc)
                            break
        self._deliver_events()
        self._wake.set()

    async def events(self) -> AsyncIterator[AnyEvent]:
        """Every event, in order, until the driver is closed."""
        async for event in self._events_out:
            yield event

    async def next_event(self) -> AnyEvent:
        """The next event.

        Raises:
            anyio.EndOfStream: the driver was closed.
        """
        return await self._events_out.receive()

    # ================================================================= internals

    def _emit(self, event: AnyEvent) -> None:
        if isinstance(event, RegistrationFailed) and event.auth_rejected:
            self._auth_refused = True
        try:
            self._events_in.send_nowait(event)
        except anyio.ClosedResourceError:
            logger.debug("event after close dropped: %r", event)

    def _deliver_events(self) -> None:
        delivered = False
        while (event := self.ua.next_event()) is not None:
            self._emit(event)
            delivered = True
        if delivered:
            self._changed.set()

    async def _wait_changed(self) -> None:
        self._changed = anyio.Event()
        await self._changed.wait()

    def _attach(self, transport: MessageTransport, attempt: int) -> None:
        assert self._task_group is not None
        self._generation += 1
        self._transport = transport
        self._ping_sent_at = None
        self._lost = anyio.Event()
        self._emit(Connected(self._url, attempt))
        self.ua.connection_made(self.now())
        self._task_group.start_soon(self._reader, transport, self._generation)
        self._task_group.start_soon(self.transmit)

    async def _reader(self, transport: MessageTransport, generation: int) -> None:
        while generation == self._generation:
            try:
                data = await transport.receive()
            except TransportError as exc:
                self._lose(transport, exc)
                return
            self._ping_sent_at = None
            self.ua.receive_message(data, self.now())
            await self.transmit()

    def _lose(self, transport: MessageTransport, exc: BaseException) -> None:
        """The transport died: tell the UA, close it, and start reconnecting (once)."""
        if transport is not self._transport:
            return
        self._transport = None
        self._generation += 1
        logger.info("connection to %s lost: %s", self._url, exc)
        self.ua.connection_lost(self.now())
        self._emit(ConnectionLost(self._url, str(exc)))
        self._deliver_events()
        self._changed.set()
        assert self._task_group is not None
        self._task_group.start_soon(transport.aclose)
        if not self._closing:
            self._task_group.start_soon(self._reconnect_loop)

    async def _reconnect_loop(self) -> None:
        policy = self._policy
        if not policy.enabled:
            self._emit(ReconnectAbandoned("reconnection is disabled"))
            return
        attempt = 0
        while not self._stopping():
            if self._auth_refused:
                # The server refused our credentials: coming back would only be refused
                # again (the JS SDK's endless retry loop is exactly what we avoid).
                self._emit(ReconnectAbandoned("the server refused the credentials"))
                return
            attempt += 1
            if policy.max_attempts is not None and attempt > policy.max_attempts:
                self._emit(ReconnectAbandoned(f"gave up after {policy.max_attempts} attempts"))
                return
            delay = policy.delay(attempt, self._random())
            self._emit(ReconnectScheduled(attempt, delay))
            await anyio.sleep(delay)
            if self._stopping():
                return
            try:
                transport = await self._connect()
            except TransportError as exc:
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

    def _keepalive_deadline(self) -> float | None:
        transport = self._transport
        if transport is None or self._keepalive_interval is None:
            return None
        if self._ping_sent_at is not None:
            return self._ping_sent_at + self._keepalive_timeout
        return transport.last_activity + self._keepalive_interval

    async def _timer_loop(self) -> None:
        while True:
            timers = (self.ua.get_timer(), self._keepalive_deadline())
            deadline = min((d for d in timers if d is not None), default=math.inf)
            self._wake = anyio.Event()
            with anyio.CancelScope(deadline=deadline) as scope:
                await self._wake.wait()
            if not scope.cancelled_caught:
                continue  # something changed: recompute the deadline
            # Clamp now so that a timer never fires before its deadline (STYLE §7).
            now = max(deadline, self.now())
            await self._check_keepalive(now)
            timer = self.ua.get_timer()
            if timer is not None and timer <= now:
                self.ua.handle_timer(now)
                await self.transmit()

    async def _check_keepalive(self, now: float) -> None:
        transport = self._transport
        keepalive = self._keepalive_deadline()
        if transport is None or keepalive is None or keepalive > now:
            return
        if self._ping_sent_at is not None:
            if transport.last_activity > self._ping_sent_at:
                self._ping_sent_at = None  # answered
                return
            silence = TransportError(f"no answer to a keepalive in {self._keepalive_timeout} s")
            self._lose(transport, silence)
            return
        self._ping_sent_at = now
        try:
            await transport.ping()
        except TransportError as exc:
            self._lose(transport, exc)
