"""Lean phones: one reader task per phone and one timer loop for all of them.

The same sans-IO ``UserAgent`` and the same ``WebSocketStream`` as the driver-based
phones, but none of the driver's per-phone machinery (a task group, reader, writer and
timer tasks, cancel scopes, wake-up events, an event stream): what is left is the
loop STYLE §7 describes, written once for the whole fleet.

- each phone's task reads its WebSocket and feeds the UA (``receive_message``), then
  sends what the UA queued and re-arms the phone's deadline;
- one shared timer loop keeps a heap of (deadline, phone); when a deadline passes it
  calls ``handle_timer(now)`` with ``now = max(deadline, clock())`` (a timer never fires
  early), sends, and re-arms; it also sends the WebSocket keepalive Ping after
  ``keepalive_interval`` idle seconds and closes a connection that stays silent
  ``keepalive_timeout`` seconds after one, like the driver;
- a phone's sends go out in order: one flush at a time per phone drains the UA's queue
  until it is empty, so messages queued by the reader and by the timer loop at the same
  time are never reordered.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import anyio

from benchmarks._fleet import Fleet, Stage, phone_config
from sipadapters import TransportError, WebSocketStream
from sipcore.events import Registered, RegistrationFailed, Unregistered
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent

__all__ = ["LeanPhones"]

_Action = Callable[[float], None]
"""A UA action started with the loop's clock (``ua.register``, ``ua.unregister``)."""


class _Phone:
    """One UA on one WebSocket, and where it is in the run."""

    __slots__ = (
        "deadline",
        "flushing",
        "index",
        "last_ping",
        "outcome",
        "ping_sent_at",
        "stage",
        "transport",
        "ua",
        "waiting",
    )

    def __init__(self, index: int, ua: UserAgent, transport: WebSocketStream) -> None:
        self.index = index
        self.ua = ua
        self.transport = transport
        self.stage: Stage | None = Stage.REGISTERED
        """The next stage to reach; None once the phone is done (or lost)."""
        self.waiting = False
        """A REGISTER exchange of ours is in progress (its outcome goes to ``outcome``)."""
        self.outcome: str | None = None
        """"" when the exchange succeeded, else why it failed."""
        self.deadline = math.inf
        """The deadline this phone is queued under in the timer heap."""
        self.flushing = False
        self.ping_sent_at: float | None = None
        self.last_ping = -math.inf


class LeanPhones:
    """Runs phones with one task each plus one shared timer loop (``serve``)."""

    name = "lean"

    def __init__(
        self, *, keepalive_interval: float | None = 30.0, keepalive_timeout: float = 10.0
    ) -> None:
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._heap: list[tuple[float, int, _Phone]] = []
        self._order = itertools.count()
        self._wake = anyio.Event()

    # ------------------------------------------------------------------ the timer loop

    async def serve(self, fleet: Fleet) -> None:
        """Fire every phone's timers as they come due, until cancelled."""
        heap = self._heap
        while True:
            self._wake = anyio.Event()
            deadline = heap[0][0] if heap else math.inf
            with anyio.CancelScope(deadline=deadline):
                await self._wake.wait()
            now = anyio.current_time()
            while heap and heap[0][0] <= now:
                deadline, _, phone = heapq.heappop(heap)
                if phone.deadline != deadline:
                    continue  # re-armed since: a stale entry
                phone.deadline = math.inf
                await self._fire(phone, max(deadline, now), fleet)
                now = anyio.current_time()

    def _arm(self, phone: _Phone) -> None:
        """Queue the phone under its earliest deadline (UA timers, keepalive)."""
        timer = phone.ua.get_timer()
        deadline = min(math.inf if timer is None else timer, self._keepalive_deadline(phone))
        if deadline == phone.deadline:
            return
        # An entry under an earlier deadline stays in the heap and is skipped as stale.
        phone.deadline = deadline
        if deadline == math.inf:
            return
        heap = self._heap
        wake = not heap or deadline < heap[0][0]
        heapq.heappush(heap, (deadline, next(self._order), phone))
        if wake:
            self._wake.set()

    def _keepalive_deadline(self, phone: _Phone) -> float:
        interval = self._keepalive_interval
        if interval is None or phone.stage is None:
            return math.inf
        if phone.ping_sent_at is not None:
            if phone.transport.last_activity < phone.ping_sent_at:
                return phone.ping_sent_at + self._keepalive_timeout
            phone.ping_sent_at = None  # answered: any bytes count, not only the Pong
        return max(phone.transport.last_activity, phone.last_ping) + interval

    async def _fire(self, phone: _Phone, now: float, fleet: Fleet) -> None:
        ping = False
        if self._keepalive_deadline(phone) <= now:
            if phone.ping_sent_at is not None:
                # No answer to the Ping: the connection is dead (the reader then fails).
                self._lose(phone, fleet, "no answer to a keepalive")
                await phone.transport.aclose()
                return
            phone.ping_sent_at = phone.last_ping = now
            ping = True
        timer = phone.ua.get_timer()
        if timer is not None and timer <= now:
            phone.ua.handle_timer(now)
            self._deliver(phone, fleet)
        await self._flush(phone, fleet, ping=ping)

    # ------------------------------------------------------------------ one phone

    async def phone(self, index: int, user: str, password: str, fleet: Fleet) -> None:
        """Connect, register, hold and unregister one phone, reporting to ``fleet``."""
        plan = fleet.plan
        try:
            ua = UserAgent(phone_config(user, password, plan))
            async with fleet.connecting:
                transport = await WebSocketStream.connect(plan.url, timeout=plan.connect_timeout)
        except TransportError as exc:
            fleet.give_up(Stage.CONNECTED, type(exc).__name__)
            return
        except Exception as exc:  # noqa: BLE001 (one broken phone must not end the run)
            fleet.give_up(Stage.CONNECTED, f"{type(exc).__name__}: {exc}")
            return
        phone = _Phone(index, ua, transport)
        try:
            await self._life(phone, fleet)
        except TransportError as exc:
            self._lose(phone, fleet, type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 (one broken phone must not end the run)
            self._lose(phone, fleet, f"{type(exc).__name__}: {exc}")
        finally:
            phone.stage = None
            phone.deadline = math.inf
            await transport.aclose()

    async def _life(self, phone: _Phone, fleet: Fleet) -> None:
        ua = phone.ua
        fleet.connected.add()
        self._arm(phone)  # the keepalive
        with fleet.hold_scope():
            await fleet.register_now.wait()
            async with fleet.in_flight:
                sent = anyio.current_time()
                failure = await self._exchange(phone, fleet, ua.register)
            if failure is not None:
                fleet.give_up(Stage.REGISTERED, failure)
                phone.stage = None
                return
            fleet.latencies[phone.index] = anyio.current_time() - sent
            fleet.registered.add()
            phone.stage = Stage.REFRESHED
            while phone.stage is not None:  # held: refreshes are counted by _deliver
                await self._receive(phone, fleet)
        # The hold is over (or the run gave up waiting for this phone).
        stage = phone.stage
        if stage is None:
            return
        if ua.registration_state is not RegistrationState.REGISTERED:
            fleet.give_up(stage, "not registered at the end of the hold")
            phone.stage = None
            return
        if stage is Stage.REFRESHED:
            fleet.refreshed.add(ok=False)
        phone.stage = Stage.UNREGISTERED
        async with fleet.in_flight:
            failure = await self._exchange(phone, fleet, ua.unregister)
        phone.stage = None
        fleet.unregistered.add(ok=failure is None)

    async def _exchange(self, phone: _Phone, fleet: Fleet, start: _Action) -> str | None:
        """Start a REGISTER exchange and read until it ends: None if it succeeded."""
        phone.waiting = True
        phone.outcome = None
        try:
            start(anyio.current_time())
            await self._flush(phone, fleet)
            with anyio.move_on_after(fleet.plan.transaction_timeout):
                while phone.outcome is None:
                    await self._receive(phone, fleet)
            return "REGISTER timed out" if phone.outcome is None else phone.outcome or None
        finally:
            phone.waiting = False

    async def _receive(self, phone: _Phone, fleet: Fleet) -> None:
        data = await phone.transport.receive()
        phone.ua.receive_message(data, anyio.current_time())
        self._deliver(phone, fleet)
        await self._flush(phone, fleet)

    async def _flush(self, phone: _Phone, fleet: Fleet, *, ping: bool = False) -> None:
        """Send what the UA queued (and a Ping), then re-arm the phone's timer."""
        if phone.flushing:
            # The flush in progress sends it: it drains the UA until nothing is left.
            if ping:
                await phone.transport.ping()
            return
        phone.flushing = True
        try:
            while messages := phone.ua.messages_to_send(anyio.current_time()):
                for data in messages:
                    await phone.transport.send(data)
            if ping:
                await phone.transport.ping()
        finally:
            phone.flushing = False
        if phone.stage is not None:
            self._arm(phone)

    def _deliver(self, phone: _Phone, fleet: Fleet) -> None:
        """Read the UA's events into the phone's state and the fleet's counts."""
        while (event := phone.ua.next_event()) is not None:
            if isinstance(event, Registered | Unregistered):
                if phone.waiting:
                    phone.outcome = ""
                elif isinstance(event, Unregistered):
                    self._lose(phone, fleet, "lost while held: Unregistered")
                else:
                    fleet.refreshes += 1
                    if phone.stage is Stage.REFRESHED:
                        fleet.refreshed.add()
                        phone.stage = Stage.UNREGISTERED
            elif isinstance(event, RegistrationFailed):
                if phone.waiting:
                    phone.outcome = f"REGISTER answered {event.status_code}"
                else:
                    self._lose(phone, fleet, "lost while held: RegistrationFailed")

    def _lose(self, phone: _Phone, fleet: Fleet, reason: str) -> None:
        stage = phone.stage
        if stage is None:
            return
        if stage > Stage.REGISTERED:
            fleet.lost += 1
        fleet.give_up(stage, reason)
        phone.stage = None
        phone.deadline = math.inf
