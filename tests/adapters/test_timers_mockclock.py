"""The driver's timers on virtual time: 32 s timeouts and 4-minute refreshes in milliseconds.

The driver runs a real ``UserAgent`` over an in-memory transport whose other end is a
scripted peer in the test. Time is virtual and jumps whenever every task is waiting
(trio's ``MockClock(autojump_threshold=0)``; on asyncio, a selector loop whose clock
jumps to the next timer instead of sleeping), so deadlines are met to the float and
nothing really waits.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Iterator

import anyio
import anyio.abc
import pytest
import trio.testing
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sipadapters import (
    KEEPALIVE_INTERVAL,
    KEEPALIVE_TIMEOUT,
    AnyEvent,
    Connected,
    ConnectError,
    ConnectFailed,
    ConnectionLost,
    MessageTransport,
    ReconnectAbandoned,
    ReconnectPolicy,
    ReconnectScheduled,
    TransportClosed,
    UserAgentDriver,
)
from sipcore.config import UserAgentConfig
from sipcore.events import CallEnded, EndReason, Registered, RegistrationFailed
from sipcore.framing import PING
from sipcore.user_agent import UserAgent
from tests.adapters.phones import events_for, ok_to_register, wait_for
from tests.kamailio import sipwire

pytestmark = [pytest.mark.anyio]

T1 = 0.5


# ------------------------------------------------------------------ virtual time on asyncio


class _JumpingSelector(selectors.DefaultSelector):
    """Where asyncio would sleep until its next timer, jump the loop's clock there instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            return super().select(None)  # nothing scheduled: only real I/O can wake us
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on virtual time starting at 0.0 (the asyncio twin of MockClock)."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    if request.param == "trio":
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
    return ("asyncio", {"loop_factory": VirtualTimeLoop})


@pytest.fixture
def wall_clock() -> Iterator[None]:
    """The test must not really wait: virtual minutes in well under a second."""
    began = time.monotonic()
    yield
    assert time.monotonic() - began < 1.0


# ------------------------------------------------------------------ an in-memory flow


class MemoryTransport:
    """One end of an in-memory SIP flow: whole messages, nothing on any wire."""

    def __init__(
        self,
        send: MemoryObjectSendStream[bytes],
        receive: MemoryObjectReceiveStream[bytes],
        *,
        reliable: bool,
    ) -> None:
        self._send = send
        self._receive = receive
        self._reliable = reliable
        self.last_activity = anyio.current_time()

    @property
    def name(self) -> str:
        return "tcp" if self._reliable else "udp"

    @property
    def reliable(self) -> bool:
        return self._reliable

    @property
    def local_address(self) -> tuple[str, int]:
        return ("127.0.0.1", 5060)

    async def send(self, data: bytes) -> None:
        try:
            await self._send.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise TransportClosed("the peer is gone") from exc

    async def receive(self) -> bytes:
        try:
            data = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            raise TransportClosed("the peer closed") from exc
        self.last_activity = anyio.current_time()
        return data

    async def ping(self) -> None:
        await self.send(PING)

    async def aclose(self) -> None:
        self._send.close()
        self._receive.close()


def memory_pair(*, reliable: bool) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends: (the driver's, the scripted peer's)."""
    a_send, a_receive = anyio.create_memory_object_stream[bytes](math.inf)
    b_send, b_receive = anyio.create_memory_object_stream[bytes](math.inf)
    return (
        MemoryTransport(a_send, b_receive, reliable=reliable),
        MemoryTransport(b_send, a_receive, reliable=reliable),
    )


class Peer:
    """The scripted far end: collects what arrives, with its virtual arrival time."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.arrivals: list[tuple[float, sipwire.SipMessage]] = []
        self._arrived = anyio.Event()

    async def run(self) -> None:
        while True:
            try:
                data = await self.transport.receive()
            except TransportClosed:
                return
            if data.strip(b"\r\n"):
                self.arrivals.append((anyio.current_time(), sipwire.parse(data)))
                self._arrived.set()
                self._arrived = anyio.Event()

    async def next(self, method: str) -> tuple[float, sipwire.SipMessage]:
        seen = len(self.arrivals)
        while True:
            for when, message in self.arrivals[seen:]:
                if message.method == method and not message.is_response:
                    return when, message
            seen = len(self.arrivals)
            await self._arrived.wait()

    def times(self, method: str) -> list[float]:
        return [when for when, m in self.arrivals if m.method == method and not m.is_response]


def _config(transport: str, **options: object) -> UserAgentConfig:
    return UserAgentConfig.for_account(
        "sip:alice@example.test", None, transport=transport, **options
    )


def _driver(
    ua: UserAgent,
    transports: list[MessageTransport],
    *,
    keepalive_interval: float | None = None,
    keepalive_timeout: float = 10.0,
    reconnect: ReconnectPolicy | None = None,
) -> UserAgentDriver:
    async def connect() -> MessageTransport:
        if not transports:
            raise ConnectError("memory: no more in-memory flows")
        return transports.pop(0)

    return UserAgentDriver(
        ua,
        connect,
        url="memory:",
        random=lambda: 0.0,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        reconnect=reconnect,
    )


# ------------------------------------------------------------------ transaction timeouts


@pytest.mark.usefixtures("wall_clock")
@pytest.mark.parametrize("reliable", [False, True], ids=["udp", "tcp"])
async def test_timer_f_ends_an_unanswered_register_at_32_s(reliable: bool) -> None:
    ours, theirs = memory_pair(reliable=reliable)
    peer = Peer(theirs)
    ua = UserAgent(_config("tcp" if reliable else "udp"))
    async with (
        _driver(ua, [ours], keepalive_interval=None) as driver,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(peer.run)
        start = driver.now()
        ua.register(start)
        await driver.transmit()
        failed = await wait_for(driver, RegistrationFailed, timeout=60)
        # RFC 3261 §17.1.2.2: "Timer F ... set to 64*T1" ends the transaction; without a
        # reliable transport, Timer E retransmits at T1 doubling up to T2 (4 s) until then.
        assert failed.status_code == 408
        assert driver.now() - start == pytest.approx(64 * T1, abs=1e-6)
        expected = [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        assert [t - start for t in peer.times("REGISTER")] == pytest.approx(
            [0.0] if reliable else expected, abs=1e-6
        )
        tg.cancel_scope.cancel()


@pytest.mark.usefixtures("wall_clock")
@pytest.mark.parametrize("reliable", [False, True], ids=["udp", "tcp"])
async def test_timer_b_ends_an_unanswered_invite_at_32_s(reliable: bool) -> None:
    ours, theirs = memory_pair(reliable=reliable)
    peer = Peer(theirs)
    ua = UserAgent(_config("tcp" if reliable else "udp"))
    async with (
        _driver(ua, [ours], keepalive_interval=None) as driver,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(peer.run)
        start = driver.now()
        call_id = ua.invite("sip:bob@example.test", start, body=b"v=0\r\n")
        await driver.transmit()
        ended = await wait_for(driver, CallEnded, timeout=60)
        # RFC 3261 §17.1.1.2: "If the client transaction is still in the "Calling" state
        # when timer B fires, the client transaction SHOULD inform the TU that a timeout
        # has occurred"; Timer A doubles from T1 without a cap meanwhile.
        assert (ended.call_id, ended.reason, ended.status_code) == (
            call_id,
            EndReason.TIMEOUT,
            408,
        )
        assert driver.now() - start == pytest.approx(64 * T1, abs=1e-6)
        expected = [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
        assert [t - start for t in peer.times("INVITE")] == pytest.approx(
            [0.0] if reliable else expected, abs=1e-6
        )
        tg.cancel_scope.cancel()


# ------------------------------------------------------------------ registration refresh


@pytest.mark.usefixtures("wall_clock")
async def test_registration_is_refreshed_at_the_refresh_fraction() -> None:
    ours, theirs = memory_pair(reliable=True)
    peer = Peer(theirs)
    ua = UserAgent(_config("tcp", register_expires=300, refresh_fraction=0.8))
    async with (
        _driver(ua, [ours], keepalive_interval=None) as driver,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(peer.run)
        ua.register(driver.now())
        await driver.transmit()
        granted_at: list[float] = []
        for _ in range(3):
            _, register = await peer.next("REGISTER")
            await theirs.send(ok_to_register(register, expires=300).encode())
            registered = await wait_for(driver, Registered, timeout=600)
            assert registered.expires == 300
            granted_at.append(driver.now())
        sent = peer.times("REGISTER")
        # Refreshes go out 0.8 * 300 = 240 s after each grant, to the float.
        assert [b - a for a, b in zip(granted_at, sent[1:], strict=False)] == pytest.approx(
            [240.0, 240.0], abs=1e-6
        )
        tg.cancel_scope.cancel()


# ------------------------------------------------------------------ keepalive and backoff


@pytest.mark.usefixtures("wall_clock")
async def test_a_silent_flow_is_dropped_within_30_s_by_default_then_rejoined() -> None:
    first, first_peer = memory_pair(reliable=True)
    second, second_peer = memory_pair(reliable=True)
    ua = UserAgent(_config("tcp"))
    policy = ReconnectPolicy(initial=0.5, maximum=30.0)
    async with _driver(
        ua,
        [first, second],
        keepalive_interval=KEEPALIVE_INTERVAL,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        reconnect=policy,
    ) as driver:
        start = driver.now()
        # Nobody answers the ping sent after 20 idle seconds: the flow is dead 10 s later,
        # within the 30 s the issue allows for noticing a dead connection.
        lost = await wait_for(driver, ConnectionLost, timeout=100)
        assert "no answer to a keepalive within 10.0 s" in lost.error
        assert driver.now() - start == pytest.approx(30.0, abs=1e-6)
        assert await first_peer.receive() == PING
        scheduled = await wait_for(driver, ReconnectScheduled)
        assert (scheduled.attempt, scheduled.delay) == (1, 0.5)  # random() is 0: no jitter
        connected = await wait_for(driver, Connected)
        assert connected.attempt == 1
        assert driver.now() - start == pytest.approx(30.5, abs=1e-6)
        # A live flow answers its pings and is kept: 5 quiet minutes, 15 pings, no loss.
        pings = 0

        async def answer_pings() -> None:
            nonlocal pings
            while True:
                assert await second_peer.receive() == PING
                pings += 1
                await second_peer.send(b"\r\n")  # RFC 5626 §3.5.1 pong

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer_pings)
            later = await events_for(driver, 300)
            tg.cancel_scope.cancel()
        assert not any(isinstance(e, ConnectionLost) for e in later), later
        assert pings == 15 and driver.connected


def test_reconnect_policy_doubles_to_its_maximum_and_jitters_down_by_half() -> None:
    policy = ReconnectPolicy()
    assert [policy.delay(n, 0.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    # jitter 0.5: a random fraction f takes up to half the delay off, never adds to it.
    assert policy.delay(3, 0.999) == pytest.approx(1.001)
    assert policy.delay(7, 0.5) == pytest.approx(22.5)
    assert ReconnectPolicy(jitter=0.0).delay(2, 0.9) == 1.0


@pytest.mark.usefixtures("wall_clock")
async def test_reconnection_backs_off_exponentially_then_gives_up() -> None:
    ours, theirs = memory_pair(reliable=True)
    ua = UserAgent(_config("tcp"))
    policy = ReconnectPolicy(initial=1.0, maximum=8.0, max_attempts=5)
    async with _driver(ua, [ours], reconnect=policy) as driver:
        await anyio.sleep(100)  # a connection that lasted longer than ``maximum``
        await theirs.aclose()
        await wait_for(driver, ConnectionLost)
        lost_at = driver.now()
        seen: list[AnyEvent] = []
        abandoned = await wait_for(driver, ReconnectAbandoned, timeout=100, seen=seen)
        assert abandoned.reason == "gave up after 5 attempts"
        delays = [e.delay for e in seen if isinstance(e, ReconnectScheduled)]
        assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]  # random() is 0: no jitter
        assert sum(isinstance(e, ConnectFailed) for e in seen) == 5
        assert driver.now() - lost_at == pytest.approx(sum(delays), abs=1e-6)
        assert not driver.connected


@pytest.mark.usefixtures("wall_clock")
async def test_udp_keepalives_hold_the_binding_without_expecting_answers() -> None:
    """Over UDP a CRLF need not be answered (RFC 5626 §4.4.2 uses STUN): silence is no loss."""
    ours, theirs = memory_pair(reliable=False)
    ua = UserAgent(_config("udp"))
    pings: list[float] = []

    async def count_pings() -> None:
        while True:
            assert await theirs.receive() == PING
            pings.append(anyio.current_time())  # and never answer

    async with (
        _driver(ua, [ours], keepalive_interval=30.0, keepalive_timeout=10.0) as driver,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(count_pings)
        start = driver.now()
        later = await events_for(driver, 301)
        assert not any(isinstance(e, ConnectionLost) for e in later), later
        assert driver.connected
        assert [t - start for t in pings] == pytest.approx([30.0 * n for n in range(1, 11)])
        tg.cancel_scope.cancel()
