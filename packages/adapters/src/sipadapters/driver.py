"""The driver: one loop that feeds a sans-IO ``UserAgent`` with bytes and time.

aioquic's ``QuicConnectionProtocol`` shape, in one structured task per driver (STYLE §7:
feed, drain, re-arm):

- **feed**: the task reads the connection and calls ``ua.receive_message(data, now)``
  for every message; when the UA's next deadline (or the keepalive's) passes it calls
  ``ua.handle_timer(now)`` with ``now = max(deadline, clock())``, so a timer never fires
  early;
- **drain**: whoever fed the UA sends what it queued, in order, at once: the task after
  a message or a timer, the application inside ``transmit()``. One flush runs at a time
  and drains the UA until nothing is left, so a second caller has nothing to wait for;
  the application's flush is shielded, so a cancelled caller loses nothing it queued;
- **re-arm**: the task waits for the next message inside a cancel scope whose deadline
  *is* the next timer. Re-arming is moving that deadline (no task switch, nothing
  re-created); a deadline in the past wakes the task at once.

The task is the driver's only one while connected (a helper fires timers while a
reconnection is under way), and the driver keeps nothing per wake-up: no events re-made,
no queue while none is pending, no sent message held after it went out. That is what
lets thousands of phones share one process (see ``UserAgentDriver``).

Events (sipcore's and the driver's own) come out of one async iterator, in order.

It also owns the connection's life: keepalives (a WebSocket Ping or a CRLF ping when the
line is idle, so a dead connection is noticed within ``keepalive_interval +
keepalive_timeout``), reconnection with exponential backoff and jitter after a loss
(re-registering on the new flow, RFC 5626 §4.4.1, and refreshing the target of
established calls, see ``descriptions``), and a graceful close that hangs up calls and
unregisters before the socket goes. The same code runs on asyncio and trio.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Final, Self

import anyio
import anyio.abc
import anyio.lowlevel

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

__all__ = [
    "UserAgentDriver",
    "AnyEvent",
    "Connector",
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_TIMEOUT",
]

KEEPALIVE_INTERVAL: Final = 20.0
"""Default idle seconds before a keepalive. With ``KEEPALIVE_TIMEOUT`` a dead connection
is noticed within 30 s of its last sign of life, well before a re-REGISTER would find out."""
KEEPALIVE_TIMEOUT: Final = 10.0
"""Default seconds a keepalive (or a send) may go unanswered on a reliable connection."""

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

    Many phones in one process: a driver costs one task and a few small objects beside
    its ``UserAgent`` and transport. In a fleet of thousands, most of the CPU left over
    is Python's cyclic garbage collector walking every live object on each full
    collection. An application that builds its fleet once may call ``gc.freeze()``
    after the phones are up (registered): what is alive then is left out of every later
    collection. The library never does this itself: it is the application's call,
    and objects frozen are only freed once ``gc.unfreeze()`` is called.

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
            bindings open). It also bounds a send: a peer that has not taken a message
            within this many seconds has stopped reading, and the connection is lost.
        random: a number in [0, 1) for backoff jitter (tests pass a fixed one).
        refresh_targets: after a reconnection, send each established call a re-INVITE
            repeating our session description, so that the peer's requests reach the
            new connection (``TargetRefreshSent``).
    """

    __slots__ = (
        "_auth_refused",
        "_backoff_level",
        "_closed",
        "_closing",
        "_connect",
        "_connected_at",
        "_descriptions",
        "_ended",
        "_events",
        "_failures",
        "_flushing",
        "_keepalive_interval",
        "_keepalive_timeout",
        "_last_ping_at",
        "_loop",
        "_ping_due",
        "_ping_sent_at",
        "_policy",
        "_random",
        "_refresh_targets",
        "_scope",
        "_task_group",
        "_timer",
        "_transport",
        "_url",
        "_waiter",
        "_waiters",
        "ua",
    )

    def __init__(
        self,
        ua: UserAgent,
        connect: Connector,
        *,
        url: str = "",
        reconnect: ReconnectPolicy | None = None,
        keepalive_interval: float | None = KEEPALIVE_INTERVAL,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        random: Callable[[], float] | None = None,
        refresh_targets: bool = True,
    ) -> None:
        self.ua = ua
        self._connect = connect
        self._url = url
        self._policy = reconnect or ReconnectPolicy()
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._random = random or _jitter
        self._refresh_targets = refresh_targets
        self._descriptions = SentDescriptions()
        self._transport: MessageTransport | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        # The driver's task runs in a scope shielded from the caller's cancellation, so
        # that aclose() can still say goodbye when the enclosing scope is cancelled. It is
        # cancelled on a loss (to leave the dead connection) and by aclose().
        self._scope: anyio.CancelScope | None = None
        # The scope waiting for the next deadline (the UA's timers, the keepalive):
        # re-armed by moving its deadline. None while nothing waits for one.
        self._timer: anyio.CancelScope | None = None
        self._connected_at = 0.0
        # Backoff: the level rises with each attempt and starts over once a connection
        # has lasted ``maximum`` seconds (so a flapping server is not hammered); the
        # failures count connection attempts that failed in a row (``max_attempts``).
        self._backoff_level = 0
        self._failures = 0
        # Sending: one flush at a time; it drains the UA until nothing is left.
        self._flushing = False
        # Keepalive: when the unanswered ping went out, when the last one went out.
        self._ping_sent_at: float | None = None
        self._last_ping_at = -math.inf
        self._ping_due = False
        self._closing = False
        self._closed = False
        self._auth_refused = False
        # Events: a queue only while some are pending. Whoever waits for one (the
        # application, aclose() waiting for the goodbye to be answered) waits on a bare
        # asyncio future on asyncio (the first waiter: the cheapest thing to park on, for
        # a fleet of idle phones), else on a shared anyio Event.
        self._events: deque[AnyEvent] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._waiters: anyio.Event | None = None
        self._ended = False

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
        try:
            self._loop = asyncio.get_running_loop()  # anyio on asyncio
        except RuntimeError:
            self._loop = None  # on trio
        transport = await self._connect()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._attach(transport, attempt=0)
        task_group.start_soon(self._run, transport)

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
        await self._send_now()
        while self._transport is not None and (self.ua.calls or self._registered()):
            await self._emitted()

    async def _shut_down(self) -> None:
        transport, self._transport = self._transport, None
        if self._scope is not None:
            self._scope.cancel()
        try:
            if transport is not None:
                await transport.aclose()  # shields itself (a Close frame, at most 1 s)
            task_group, self._task_group = self._task_group, None
            if task_group is not None:
                # Not in a shielded scope of ours: the task group's scope was entered in
                # start() and must be exited before any scope opened since. Its task is
                # cancelled and closes its transport shielded, so this is prompt.
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)
        finally:
            self._deliver_events()
            self._ended = True
            self._wake()

    # ================================================================= public API

    def now(self) -> float:
        """The event loop's clock: the ``now`` to pass to ``ua`` actions."""
        loop = self._loop
        return anyio.current_time() if loop is None else loop.time()  # the same clock

    @property
    def connected(self) -> bool:
        """Whether a transport is up right now."""
        return self._transport is not None

    @property
    def transport(self) -> MessageTransport | None:
        """The current transport, if connected."""
        return self._transport

    async def transmit(self) -> None:
        """Deliver the UA's events, send what it queued and re-arm the timer.

        Call it after every ``ua`` action. What the UA queued is sent in order before
        this returns, shielded from the caller's cancellation (for at most
        ``keepalive_timeout`` seconds), so a cancelled caller loses nothing; if another
        send is under way, that one sends it and this returns at once. While
        disconnected, the messages wait in the UA for the next connection. Never
        raises but for cancellation: a send failure counts as a lost connection (and
        what could not be sent is retransmitted or timed out by sipcore).
        """
        if await self._send_now():
            await anyio.lowlevel.checkpoint_if_cancelled()  # the sends were checkpoints
        else:
            await anyio.lowlevel.checkpoint()

    def events(self) -> AsyncIterator[AnyEvent]:
        """Every event, in order, until the driver is closed."""
        return _EventIterator(self)

    def next_event(self) -> Coroutine[Any, Any, AnyEvent]:
        """The next event (``await driver.next_event()``).

        Raises:
            anyio.EndOfStream: the driver was closed and every event was read.
        """
        # The waiting coroutine itself, not one awaiting it: an application waiting for
        # events is parked one frame lighter (see _EventIterator.__anext__).
        return self._next_event(anyio.EndOfStream)

    async def _next_event(self, end: type[Exception]) -> AnyEvent:
        """The next event; raises ``end`` once the driver is closed and all were read."""
        if self._events:
            await anyio.lowlevel.checkpoint_if_cancelled()
        while not self._events:
            if self._ended:
                raise end
            await self._emitted()
        events = self._events
        event = events.popleft()
        if not events:
            self._events = None  # nothing held while idle
        return event

    # ================================================================= events

    def _emit(self, event: AnyEvent) -> None:
        if self._ended:
            logger.debug("event after close dropped: %r", event)
            return
        events = self._events
        if events is None:
            events = self._events = deque()
        events.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():  # done: its task was cancelled
            waiter.set_result(None)
        waiters, self._waiters = self._waiters, None
        if waiters is not None:
            waiters.set()

    def _emitted(self) -> Awaitable[object]:
        """What to await until the next event is emitted (or the event stream ends)."""
        loop = self._loop
        if loop is not None and (self._waiter is None or self._waiter.done()):
            # A future per waiter: cancelling one waiter's task cancels its future only.
            waiter = self._waiter = loop.create_future()
            return waiter
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = anyio.Event()
        return waiters.wait()

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

    # ================================================================= sending

    async def _send_now(self) -> bool:
        """Deliver events, send what the UA queued (shielded), re-arm the timer.

        Returns:
            Whether anything was sent (the sends were checkpoints).
        """
        self._deliver_events()
        transport = self._transport
        sent = False
        if transport is not None and not self._flushing:
            messages = self.ua.messages_to_send(self.now())
            if messages or self._ping_due:
                sent = True
                with anyio.move_on_after(self._keepalive_timeout, shield=True) as scope:
                    await self._flush(transport, messages)
                if scope.cancelled_caught:
                    self._lose(transport, self._send_timed_out())
        self._rearm()
        return sent

    async def _flush(self, transport: MessageTransport, messages: list[bytes]) -> None:
        """Send ``messages`` (taken from the UA), then what the UA queues meanwhile, then a
        due keepalive. The one flush under way: the caller checked ``_flushing``."""
        self._flushing = True
        try:
            while transport is self._transport:
                for data in messages:
                    await transport.send(data)
                    self._descriptions.sent(data)
                messages = self.ua.messages_to_send(self.now())
                if messages:
                    continue
                if not self._ping_due:
                    return
                self._ping_due = False
                await transport.ping()
                messages = self.ua.messages_to_send(self.now())
        except TransportError as exc:
            self._lose(transport, exc)
        finally:
            self._flushing = False

    def _send_timed_out(self) -> TransportError:
        return TransportError(f"a send did not complete within {self._keepalive_timeout} s")

    # ================================================================= the task

    async def _run(self, transport: MessageTransport | None) -> None:
        """The driver's task: feed, drain, re-arm on the connection until it is lost, then
        reconnect and serve the new one, until the driver closes.

        The connection is served in a shielded scope that is also the timer: each pass
        sends what is queued (the scope's deadline bounding the send), then waits for a
        message with the scope's deadline set to the next timer (a deadline already due
        fires at once, without waiting). When the deadline passes the scope is left, and
        the timers fire at the top of the next one. A loss or aclose() cancels it.
        """
        while transport is not None:
            fired: float | None = None
            try:
                while transport is self._transport:
                    scope = anyio.CancelScope(shield=True)
                    self._scope = scope
                    sending = False
                    with scope:
                        if fired is not None:
                            self._on_deadline(fired)
                            fired = None
                        while transport is self._transport:
                            if not self._flushing:
                                messages = self.ua.messages_to_send(self.now())
                                if messages or self._ping_due:
                                    # The deadline now bounds the send: no timer may cut
                                    # it short (what was taken from the UA would be
                                    # lost), and a send blocked that long means the peer
                                    # stopped reading. A deadline already further away
                                    # bounds it as well, and is left alone.
                                    sending = True
                                    bound = self.now() + self._keepalive_timeout
                                    if not bound <= scope.deadline < math.inf:
                                        scope.deadline = bound
                                    await self._flush(transport, messages)
                                    sending = False
                                del messages  # nothing held while idle
                            if scope.cancel_called:
                                break  # a deadline passed (or the connection was lost)
                            deadline = self._next_deadline()
                            if deadline <= self.now():
                                self._on_deadline(deadline)  # due already: no wait
                                continue
                            _arm(scope, deadline)
                            self._timer = scope
                            try:
                                data = await transport.receive()  # cancel-safe
                            finally:
                                self._timer = None
                            if transport is not self._transport:
                                break  # arrived on a connection already given up
                            self.ua.receive_message(data, self.now())
                            del data  # nothing held while idle
                            self._deliver_events()
                    if scope.cancel_called and transport is self._transport:
                        if sending:
                            self._lose(transport, self._send_timed_out())
                        else:
                            fired = scope.deadline
            except TransportError as exc:
                self._lose(transport, exc)
            finally:
                self._scope = None
                await transport.aclose()  # shields itself; never raises
            transport = await self._between_connections()

    async def _between_connections(self) -> MessageTransport | None:
        """After a loss: reconnect (the UA's timers firing meanwhile) and return the new
        connection, attached; None once the driver closes."""
        if self._closed:
            return None
        transport: MessageTransport | None = None
        attempt = 0
        with anyio.CancelScope(shield=True) as scope:
            self._scope = scope
            if not self._closing:  # no reconnection while saying goodbye
                async with anyio.create_task_group() as helper:
                    helper.start_soon(self._keep_time)
                    reconnected = await self._reconnect()
                    if reconnected is not None:
                        transport, attempt = reconnected
                    helper.cancel_scope.cancel()
            if transport is None:
                await self._keep_time()  # given up or closing: timers fire until closed
        self._scope = None
        if transport is not None and self._closing:
            await transport.aclose()  # shields itself
            return None
        if transport is not None:
            self._attach(transport, attempt)
        return transport

    async def _keep_time(self) -> None:
        """Fire the UA's timers until cancelled (while there is no connection)."""
        try:
            while True:
                with anyio.CancelScope(deadline=self._next_deadline()) as scope:
                    self._timer = scope
                    await anyio.sleep_forever()
                self._timer = None
                self._on_deadline(scope.deadline)
        finally:
            self._timer = None

    def _rearm(self) -> None:
        """Something may have changed in the UA: move the waiting scope's deadline."""
        timer = self._timer
        if timer is not None:
            _arm(timer, self._next_deadline())

    # ================================================================= connections

    def _attach(self, transport: MessageTransport, attempt: int) -> None:
        """A new connection: report it, tell the UA; the task then sends what it queued."""
        self._deliver_events()
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
        self._deliver_events()

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

    def _lose(self, transport: MessageTransport, error: BaseException) -> None:
        """The transport died: tell the UA; the task closes it and reconnects (once)."""
        if transport is not self._transport:
            return
        self._deliver_events()  # what happened before the loss is reported before it
        now = self.now()
        self._transport = None
        self._ping_sent_at = None
        if self._scope is not None:
            self._scope.cancel()  # the task leaves the connection, closes it, reconnects
        if now - self._connected_at >= self._policy.maximum:
            self._backoff_level = 0  # it was a working connection: back off from the start
        logger.info("connection to %s lost: %s", self._url, error)
        self.ua.connection_lost(now)
        self._emit(ConnectionLost(self._url, str(error)))
        self._deliver_events()

    async def _reconnect(self) -> tuple[MessageTransport, int] | None:
        """Back off and connect again: the new transport and its attempt, or None."""
        policy = self._policy
        if not policy.enabled:
            self._emit(ReconnectAbandoned("reconnection is disabled"))
            return None
        while not self._stopping():
            if self._auth_refused:
                self._emit(ReconnectAbandoned("the server refused the credentials"))
                return None
            if policy.max_attempts is not None and self._failures >= policy.max_attempts:
                self._emit(ReconnectAbandoned(f"gave up after {policy.max_attempts} attempts"))
                return None
            self._backoff_level += 1
            attempt = self._backoff_level
            delay = policy.delay(attempt, self._random())
            self._emit(ReconnectScheduled(attempt, delay))
            await anyio.sleep(delay)
            if self._stopping():
                return None
            try:
                transport = await self._connect()
            except TransportError as exc:
                logger.info("reconnection %d to %s failed: %s", attempt, self._url, exc)
                self._failures += 1
                self._emit(ConnectFailed(attempt, str(exc)))
                continue
            return transport, attempt
        return None

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
        deadline = self.ua.get_timer()
        keepalive = self._keepalive_deadline()
        if deadline is None:
            return math.inf if keepalive is None else keepalive
        return deadline if keepalive is None else min(deadline, keepalive)

    def _on_deadline(self, deadline: float) -> None:
        """A deadline passed: check the keepalive, fire the UA's due timers."""
        # Clamp now so that a timer never fires before its deadline (STYLE §7).
        now = max(deadline, self.now())
        self._check_keepalive(now)
        timer = self.ua.get_timer()
        if timer is not None and timer <= now:
            self.ua.handle_timer(now)
        self._deliver_events()

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
        self._ping_due = True  # sent by the next flush, after anything already queued


def _arm(scope: anyio.CancelScope, deadline: float) -> None:
    """Have ``scope`` wake by ``deadline``: at once if it is earlier than the one set.

    A later one is left for the wake-up it would replace, which finds nothing due and
    arms the right one then: deadlines move later with every message (the keepalive's
    follows the last activity), and one spurious wake-up per keepalive interval costs
    far less than a new timer per message.
    """
    if deadline < scope.deadline:  # noqa: PLR1730 (setting it re-arms: only on a change)
        scope.deadline = deadline


class _EventIterator:
    """``UserAgentDriver.events()``: ``next_event()`` until the stream ends."""

    __slots__ = ("_driver",)

    def __init__(self, driver: UserAgentDriver) -> None:
        self._driver = driver

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Coroutine[Any, Any, AnyEvent]:
        # The driver's coroutine itself, not one awaiting it: an idle phone's application
        # task is parked one frame lighter.
        return self._driver._next_event(StopAsyncIteration)


def _jitter() -> float:
    return secrets.randbits(32) / 2**32
