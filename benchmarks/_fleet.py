"""A fleet of phones in one process: connect, register, hold through a refresh, unregister.

The run goes in phases, each one timed and measured on its own:

1. **connect**: every phone opens its own WebSocket (at most ``connect_in_flight``
   handshakes at once);
2. **register**: released together, every phone sends REGISTER, gets 401, answers the
   challenge and gets 200 (at most ``in_flight`` registrations at once): the
   REGISTER-with-digest rate is the phones registered over the burst's wall time;
3. **hold**: the phones sit idle until each has refreshed its registration once (the
   registrar's 200 to a REGISTER carrying the reused nonce, RFC 7616 §3.4 ``nc``),
   which takes ``refresh_fraction`` of the granted expiry; a phone whose registration
   or connection fails here is counted as lost;
4. **unregister**: every phone removes its binding (``in_flight`` at once) and closes.

How a phone does this is up to the phone function (``PhoneFunction``): the driver-based
phones of ``benchmarks._driven`` and the lean ones of ``benchmarks._lean`` report into
the same ``Fleet`` and are measured by the same code.
"""

from __future__ import annotations

import dataclasses
import enum
import gc
import math
import statistics
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from benchmarks._proc import GcClock, Usage, self_peak_memory, self_usage
from sipadapters import KEEPALIVE_INTERVAL
from sipcore.config import UserAgentConfig

__all__ = [
    "Stage",
    "Milestone",
    "FleetPlan",
    "Fleet",
    "Phones",
    "phone_config",
    "Mark",
    "PhaseResult",
    "FleetResult",
    "run_fleet",
]


class Stage(enum.IntEnum):
    """The points a phone passes, in order."""

    CONNECTED = 0
    REGISTERED = 1
    REFRESHED = 2
    UNREGISTERED = 3


class Milestone:
    """How many phones reached a stage (or gave up before it); an event when all have."""

    __slots__ = ("count", "done", "failed", "first", "last", "target")

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.failed = 0
        self.first = math.inf
        """When the first phone reached it (the loop's clock)."""
        self.last = -math.inf
        """When the last phone so far reached it."""
        self.done = anyio.Event()

    def add(self, ok: bool = True) -> None:
        """One more phone reached the stage (``ok``) or will never reach it."""
        if ok:
            now = anyio.current_time()
            self.count += 1
            self.first = min(self.first, now)
            self.last = now
        else:
            self.failed += 1
        if self.count + self.failed >= self.target:
            self.done.set()


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """What the fleet does."""

    url: str
    """The server's WebSocket URL (``ws://...``)."""
    domain: str
    """The SIP domain of the accounts."""
    users: Sequence[tuple[str, str]]
    """(user, password) of each phone."""
    expires: int
    """Registration expiry asked for (seconds); refreshed at ``refresh_fraction``."""
    refresh_fraction: float = 0.8
    in_flight: int = 200
    """Registrations (and un-registrations) in progress at once."""
    connect_in_flight: int = 200
    """WebSocket handshakes in progress at once."""
    keepalive_interval: float | None = KEEPALIVE_INTERVAL
    """The driver's WebSocket ping after this many idle seconds."""
    connect_timeout: float = 30.0
    """Seconds one phone may take to connect."""
    transaction_timeout: float = 40.0
    """Seconds one REGISTER exchange may take before it counts as failed."""
    hold: bool = True
    """Hold the phones until each has refreshed (False: unregister at once, as a
    profiled run does, whose refreshes would come too late)."""
    freeze_after_connect: bool = False
    """``gc.freeze()`` once every phone is connected, as docs/scale.md advises for a
    process holding thousands of phones: the connections' objects then stay out of the
    collector's full passes, which otherwise rescan all of them as registrations add more."""


@dataclass(slots=True)
class Fleet:
    """What the phones share: the gates that pace them and the counts they report to."""

    plan: FleetPlan
    connected: Milestone
    registered: Milestone
    refreshed: Milestone
    unregistered: Milestone
    connecting: anyio.Semaphore
    in_flight: anyio.Semaphore
    register_now: anyio.Event = field(default_factory=anyio.Event)
    holds: list[anyio.CancelScope] = field(default_factory=list)
    """One per phone: cancelled to end the hold."""
    latencies: array[float] = field(default_factory=lambda: array("d"))
    """Seconds from a phone's first REGISTER to its 200 (``nan`` until then)."""
    refreshes: int = 0
    """200s to refresh REGISTERs, over the whole hold."""
    lost: int = 0
    """Phones whose registration or connection failed while held."""
    errors: dict[str, int] = field(default_factory=dict)
    """Why phones failed, counted by reason."""

    @classmethod
    def for_plan(cls, plan: FleetPlan) -> Fleet:
        n = len(plan.users)
        return cls(
            plan,
            connected=Milestone(n),
            registered=Milestone(n),
            refreshed=Milestone(n),
            unregistered=Milestone(n),
            connecting=anyio.Semaphore(plan.connect_in_flight),
            in_flight=anyio.Semaphore(plan.in_flight),
            latencies=array("d", [math.nan]) * n,
        )

    def milestone(self, stage: Stage) -> Milestone:
        return (self.connected, self.registered, self.refreshed, self.unregistered)[stage]

    def give_up(self, stage: Stage, reason: str) -> None:
        """A phone will not reach ``stage`` nor any later one."""
        self.errors[reason] = self.errors.get(reason, 0) + 1
        for later in Stage:
            if later >= stage:
                self.milestone(later).add(ok=False)

    def hold_scope(self) -> anyio.CancelScope:
        """A scope for a phone's wait until the end of the hold (``end_hold`` cancels it)."""
        scope = anyio.CancelScope()
        self.holds.append(scope)
        return scope

    def end_hold(self) -> None:
        for scope in self.holds:
            scope.cancel()


def phone_config(user: str, password: str, plan: FleetPlan) -> UserAgentConfig:
    """The account of one phone: a WebSocket UA asking ``plan.expires``."""
    return UserAgentConfig.for_account(
        f"sip:{user}@{plan.domain}",
        password,
        transport="ws",
        register_expires=plan.expires,
        refresh_fraction=plan.refresh_fraction,
    )


class Phones(Protocol):
    """A way of running phones: one coroutine per phone and, optionally, shared work."""

    name: str

    async def phone(self, index: int, user: str, password: str, fleet: Fleet) -> None:
        """One phone's whole life, reported to ``fleet``."""

    async def serve(self, fleet: Fleet) -> None:
        """Work shared by every phone (a timer loop), until cancelled; may return at once."""


@dataclass(frozen=True, slots=True)
class Mark:
    """The state of things at a phase boundary."""

    at: float
    """The loop's clock."""
    usage: Usage
    """Our RSS (after a collection) and CPU seconds."""
    gc: tuple[tuple[float, int], ...]
    """CPU seconds in, and number of, collections of each generation so far (explicit
    collections excluded)."""
    server: Usage | None
    """The server's PSS and CPU seconds, if it is watched."""


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """One phase of the run."""

    name: str
    ok: int
    failed: int
    seconds: float
    """Wall time from the phase's start to its last success."""
    cpu: float
    """Our CPU seconds over the phase."""
    gc: tuple[tuple[float, int], ...]
    """... of which in the garbage collector: (CPU seconds, collections) by generation."""
    server_cpu: float | None
    """The server's CPU seconds over the phase."""

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def gc_seconds(self) -> float:
        return sum(seconds for seconds, _ in self.gc)

    @property
    def cpu_ms_per_phone(self) -> float:
        return 1000 * self.cpu / self.ok if self.ok else math.nan

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 1),
            "cpu_seconds": round(self.cpu, 3),
            "cpu_ms_per_phone": round(self.cpu_ms_per_phone, 3) if self.ok else None,
            "gc_seconds": round(self.gc_seconds, 3),
            "gc_by_generation": [
                {"cpu_seconds": round(seconds, 3), "collections": count}
                for seconds, count in self.gc
            ],
            "server_cpu_seconds": None if self.server_cpu is None else round(self.server_cpu, 3),
        }


@dataclass(frozen=True, slots=True)
class FleetResult:
    """Everything measured in one run of a fleet."""

    kind: str
    phones: int
    connect: PhaseResult
    register: PhaseResult
    hold: PhaseResult
    """From the end of the registration burst until every phone had refreshed."""
    unregister: PhaseResult
    baseline: Usage
    """Our memory and CPU before the first phone was made."""
    registered_usage: Usage
    """... once every phone had registered."""
    held_usage: Usage
    """... once every phone had refreshed (the idle, held state)."""
    server_memory: dict[str, int]
    """The server's PSS before the run, registered, held (bytes)."""
    peak_memory: int
    register_latency: dict[str, float]
    """Seconds from REGISTER to 200 per phone: p50, p90, p99, max."""
    refreshes: int
    lost: int
    errors: dict[str, int]
    total_seconds: float

    @property
    def phases(self) -> tuple[PhaseResult, ...]:
        return (self.connect, self.register, self.hold, self.unregister)

    def memory_per_phone(self, usage: Usage) -> float:
        return (usage.memory - self.baseline.memory) / max(1, self.phones)

    @property
    def connect_and_register_rate(self) -> float:
        """Phones connected and registered per second (the two phases back to back)."""
        seconds = self.connect.seconds + self.register.seconds
        return self.register.ok / seconds if seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phones": self.phones,
            "phases": {p.name: p.as_json() for p in self.phases},
            "connect_and_register_per_second": round(self.connect_and_register_rate, 1),
            "rss_bytes": {
                "baseline": self.baseline.memory,
                "registered": self.registered_usage.memory,
                "held": self.held_usage.memory,
                "peak": self.peak_memory,
            },
            "rss_per_phone_bytes": {
                "registered": round(self.memory_per_phone(self.registered_usage)),
                "held": round(self.memory_per_phone(self.held_usage)),
            },
            "server_pss_bytes": self.server_memory,
            "refreshes": self.refreshes,
            "lost": self.lost,
            "register_latency_s": {k: round(v, 4) for k, v in self.register_latency.items()},
            "errors": self.errors,
            "total_seconds": round(self.total_seconds, 3),
            "cpu_seconds": round(self.held_usage.cpu - self.baseline.cpu, 3),
        }


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    done = sorted(v for v in values if not math.isnan(v))
    if not done:
        return {}
    cuts = statistics.quantiles(done, n=100, method="inclusive") if len(done) > 1 else done * 99
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": done[-1]}


async def _wait(milestone: Milestone, timeout: float) -> None:
    with anyio.move_on_after(timeout):
        await milestone.done.wait()


def _phase(name: str, milestone: Milestone, start: Mark, end: Mark) -> PhaseResult:
    seconds = milestone.last - start.at if milestone.count else 0.0
    server_cpu = None
    if start.server is not None and end.server is not None:
        server_cpu = end.server.cpu - start.server.cpu
    return PhaseResult(
        name,
        milestone.count,
        milestone.target - milestone.count,
        seconds,
        end.usage.cpu - start.usage.cpu,
        tuple((s1 - s0, c1 - c0) for (s0, c0), (s1, c1) in zip(start.gc, end.gc, strict=True)),
        server_cpu,
    )


async def run_fleet(
    phones: Phones,
    plan: FleetPlan,
    progress: Callable[[str], None],
    server: Callable[[], Usage] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> FleetResult:
    """Run every phone of ``plan`` through the four phases; measure each.

    Args:
        phones: how to run a phone.
        plan: the phones and their pacing.
        progress: told what is happening (one line per phase).
        server: reads the server's memory and CPU (at each phase boundary).
        on_phase: called at each boundary (``start``, ``connected``, ``register``,
            ``registered``, ``held``, ``unregister``, ``unregistered``), before our memory
            is read: where a profiler starts and stops (its CPU is not counted).
    """
    n = len(plan.users)
    fleet = Fleet.for_plan(plan)
    service = anyio.CancelScope()
    with GcClock() as gc_clock:
        # CPU spent measuring (explicit collections, profilers) is kept out of the phases.
        measuring = [0.0]

        def mark(name: str, collect: bool = True) -> Mark:
            at = anyio.current_time()
            gc_reading = gc_clock.reading()
            started = time.process_time()
            with gc_clock.paused():
                if on_phase is not None:
                    on_phase(name)
                usage = self_usage(collect=collect)
            ended = time.process_time()
            measuring[0] += ended - started
            usage = Usage(usage.memory, ended - measuring[0])
            return Mark(at, usage, gc_reading, None if server is None else server())

        async def serve() -> None:
            with service:
                await phones.serve(fleet)

        # Everything the measurement keeps per phone is allocated before the baseline.
        began = mark("start")
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(serve)
            for index, (user, password) in enumerate(plan.users):
                tasks.start_soon(phones.phone, index, user, password, fleet)

            await _wait(fleet.connected, plan.connect_timeout + n / 50)
            connected = mark("connected", collect=False)
            if plan.freeze_after_connect:
                gc.freeze()
            progress(
                f"{fleet.connected.count}/{n} connected in {fleet.connected.last - began.at:.1f} s"
            )

            fleet.register_now.set()
            register_began = mark("register", collect=False)
            await _wait(fleet.registered, plan.transaction_timeout + n / 50)
            registered = mark("registered")
            progress(
                f"{fleet.registered.count}/{n} registered in "
                f"{fleet.registered.last - register_began.at:.1f} s; holding through a refresh "
                f"(due {plan.expires * plan.refresh_fraction:.0f} s after each registration)"
            )

            burst = registered.at - register_began.at
            if plan.hold:
                await _wait(
                    fleet.refreshed,
                    plan.expires * plan.refresh_fraction + burst + plan.transaction_timeout,
                )
            held = mark("held")
            progress(f"{fleet.refreshed.count}/{n} refreshed, {fleet.lost} lost; unregistering")

            fleet.end_hold()
            unregister_began = mark("unregister", collect=False)
            await _wait(fleet.unregistered, plan.transaction_timeout + n / 50)
            unregistered = mark("unregistered", collect=False)
            progress(f"{fleet.unregistered.count}/{n} unregistered")
            # Every phone is closing its connection now; one that is stuck is cancelled.
            service.cancel()
            tasks.cancel_scope.deadline = anyio.current_time() + plan.transaction_timeout

    hold = _phase("hold", fleet.refreshed, registered, held)
    return FleetResult(
        kind=phones.name,
        phones=n,
        connect=_phase("connect", fleet.connected, began, connected),
        register=_phase("register", fleet.registered, register_began, registered),
        # The hold's wall time is all of it, not only until the last refresh.
        hold=dataclasses.replace(hold, seconds=held.at - registered.at),
        unregister=_phase("unregister", fleet.unregistered, unregister_began, unregistered),
        baseline=began.usage,
        registered_usage=registered.usage,
        held_usage=held.usage,
        server_memory={
            name: m.server.memory
            for name, m in (("before", began), ("registered", registered), ("held", held))
            if m.server is not None
        },
        peak_memory=self_peak_memory(),
        register_latency=_percentiles(fleet.latencies),
        refreshes=fleet.refreshes,
        lost=fleet.lost,
        errors=dict(fleet.errors),
        total_seconds=anyio.current_time() - began.at,
    )
