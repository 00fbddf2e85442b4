"""Faults: the server dies, closes, vanishes, lies, refuses, or goes silent.

Against the suite's real Kamailio (killed, restarted, SIGSTOPped, told to close or reset
connections) and, for what Kamailio will not do on demand (garbage, oversized frames,
unanswered CRLF keepalives), a local WebSocket SIP server written with wsproto. Every
test runs on asyncio and trio. Measured times are recorded as test properties
(``--junitxml`` shows them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
from collections.abc import Callable, Iterator

import anyio
import anyio.to_thread
import pytest

from sipadapters import (
    AnyEvent,
    Connected,
    ConnectError,
    ConnectFailed,
    ConnectionLost,
    ReconnectAbandoned,
    ReconnectPolicy,
    ReconnectScheduled,
    TargetRefreshSent,
    TlsOptions,
    open_transport,
    open_user_agent,
)
from sipcore.config import UserAgentConfig
from sipcore.events import (
    CallEnded,
    EndReason,
    FlowFailed,
    IncomingCall,
    MessageDiscarded,
    Registered,
    RegistrationFailed,
    RegistrationSent,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
)
from sipcore.registration import RegistrationState
from tests.adapters.phones import (
    ANSWER,
    HOLD_ANSWER,
    HOLD_OFFER,
    OFFER,
    FakeConnection,
    FakeWebSocketServer,
    establish,
    events_for,
    local_port,
    ok_to_register,
    phone,
    register,
    serve_registrar,
    server_url,
    wait_for,
)
from tests.kamailio import sipwire
from tests.kamailio.plugin import KamailioFactory
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.anyio]

RecordProperty = Callable[[str, object], None]


# ------------------------------------------------------------------ 3a: killed and restarted


@pytest.mark.kamailio
async def test_kamailio_killed_and_restarted(
    fresh_kamailio: KamailioFactory, record_property: RecordProperty
) -> None:
    kamailio = fresh_kamailio()
    received: list[bytes] = []
    async with (
        # The default policy (0.5 s doubling to 30 s): it must come back within 5 s.
        phone(kamailio, "alice", received=received, reconnect=ReconnectPolicy()) as alice,
        phone(kamailio, "bob") as bob,
    ):
        await register(alice)
        await register(bob)
        killed_at = alice.now()
        before = len(received)
        await anyio.to_thread.run_sync(kamailio.kill)
        # The kernel closes the dead server's sockets: the phone notices at once.
        seen: list[AnyEvent] = []
        await wait_for(alice, ConnectionLost, timeout=2.0, seen=seen)
        record_property("loss_noticed_after_s", round(alice.now() - killed_at, 3))
        await anyio.sleep(1.5)  # down for a while: attempts are refused and back off
        registered_at: list[float] = []

        async def watch() -> None:
            await wait_for(alice, Registered, timeout=5.0 + 5.0, seen=seen)
            registered_at.append(alice.now())

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(watch)
            restarted_at = alice.now()
            await anyio.to_thread.run_sync(kamailio.start)
        ready = kamailio.startup_seconds
        assert ready is not None
        took = registered_at[0] - restarted_at
        record_property("kamailio_startup_s", round(ready, 3))
        record_property("reregistered_after_restart_began_s", round(took, 3))
        assert took < ready + 5.0

        # It backed off: refused attempts, with growing delays, then a new connection.
        scheduled = [e for e in seen if isinstance(e, ReconnectScheduled)]
        assert [e.attempt for e in scheduled] == list(range(1, len(scheduled) + 1))
        assert len(scheduled) >= 2, scheduled
        fractions = set()
        for e in scheduled:  # 0.5 s doubling up to 30 s, up to 50 % less at random
            base = min(30.0, 0.5 * 2 ** (e.attempt - 1))
            assert base / 2 <= e.delay <= base, scheduled
            fractions.add(e.delay / base)
        assert len(fractions) == len(scheduled), scheduled  # jittered, not a fixed fraction
        assert any(isinstance(e, ConnectFailed) for e in seen)
        assert any(isinstance(e, Connected) and e.attempt > 0 for e in seen)
        # The restarted Kamailio has a new secret: it refused the cached nonce, and the
        # DigestSession answered its new challenge instead of giving up.
        sent = [e for e in seen if isinstance(e, RegistrationSent)]
        challenges = [
            sipwire.parse(m)
            for m in received[before:]
            if m.startswith(b"SIP/2.0 401") and b"REGISTER" in m
        ]
        assert len(sent) == 2 and len(challenges) == 1, (sent, challenges)
        challenge = challenges[0].header("WWW-Authenticate")
        record_property("restart_challenge_stale", "stale=true" in challenge.lower())
        assert not any(isinstance(e, RegistrationFailed) for e in seen)

        # The next incoming call reaches the re-registered phone.
        if bob.ua.registration_state is not RegistrationState.REGISTERED:
            await wait_for(bob, Registered)
        call_id = await establish(bob, alice, kamailio.aor("alice"))
        alice.ua.bye(call_id, alice.now())
        await alice.transmit()
        assert (await wait_for(bob, CallEnded)).reason is EndReason.REMOTE_HANGUP


# ------------------------------------------------------------------ 3b: closed mid-call


@pytest.mark.kamailio
@pytest.mark.parametrize(
    ("fault", "hangs_up"),
    [
        ("close_ws", "reconnected"),
        ("close_ws", "other"),
        ("drop_connection", "reconnected"),
        ("drop_connection", "other"),
    ],
)
async def test_server_closes_the_connection_mid_call(
    kamailio: KamailioServer, fault: str, hangs_up: str, record_property: RecordProperty
) -> None:
    """The dialog survives the reconnection; a BYE from either side ends it cleanly.

    ``close_ws`` cuts the caller (a Close frame), ``drop_connection`` the callee (a TCP
    reset). The cut phone refreshes the dialog's target with a re-INVITE on its new
    connection, so that Kamailio's alias for it names the new one. That re-INVITE
    repeats the session as it stands: before the cut the caller put the call on hold
    (accepted: the hold offer is current), the callee tried to (refused with 488: its
    original answer is still current, RFC 3261 §14.1).
    """
    async with phone(kamailio, "carol") as carol, phone(kamailio, "dave") as dave:
        await register(carol)
        await register(dave)
        call_id = await establish(carol, dave, kamailio.aor("dave"))
        cut, other = (carol, dave) if fault == "close_ws" else (dave, carol)
        cut_user = "carol" if cut is carol else "dave"
        cut.ua.reinvite(call_id, cut.now(), HOLD_OFFER)
        await cut.transmit()
        await wait_for(other, ReinviteReceived)
        if fault == "close_ws":
            other.ua.accept_reinvite(call_id, other.now(), HOLD_ANSWER)
            await other.transmit()
            await wait_for(cut, ReinviteAnswered)
            current = HOLD_OFFER
        else:
            other.ua.reject_reinvite(call_id, other.now(), 488)
            await other.transmit()
            assert (await wait_for(cut, ReinviteFailed)).status_code == 488
            current = ANSWER

        port = local_port(cut)
        cut_at = cut.now()
        await anyio.to_thread.run_sync(getattr(kamailio, fault), port)
        seen: list[AnyEvent] = []
        lost = await wait_for(cut, ConnectionLost, seen=seen)
        assert ("closed the WebSocket" in lost.error) == (fault == "close_ws"), lost.error
        await wait_for(cut, Connected, where=lambda e: e.attempt > 0, seen=seen)
        refresh = await wait_for(cut, TargetRefreshSent, seen=seen)
        assert refresh.call_id == call_id
        reinvite = await wait_for(other, ReinviteReceived)
        assert reinvite.request.body == current
        other.ua.accept_reinvite(
            call_id, other.now(), HOLD_ANSWER if current == HOLD_OFFER else OFFER
        )
        await other.transmit()
        await wait_for(cut, ReinviteAnswered, seen=seen)
        if not any(isinstance(e, Registered) for e in seen):
            await wait_for(cut, Registered, seen=seen)
        record_property("reregistered_and_refreshed_after_s", round(cut.now() - cut_at, 3))
        assert local_port(cut) != port
        # RFC 5626 §4.2: the new flow registers the same instance and reg-id, so the
        # registrar replaces the binding instead of adding one.
        reregister = bytes(next(e for e in seen if isinstance(e, RegistrationSent)).request)
        assert re.search(rb'\+sip\.instance="<urn:uuid:[0-9a-f-]{36}>"', reregister), reregister
        assert b";reg-id=1" in reregister, reregister
        assert len(kamailio.contacts(cut_user)) == 1

        ender, peer = (cut, other) if hangs_up == "reconnected" else (other, cut)
        ender.ua.bye(call_id, ender.now())
        await ender.transmit()
        ended = await wait_for(peer, CallEnded)
        assert (ended.call_id, ended.reason) == (call_id, EndReason.REMOTE_HANGUP)
        ended = await wait_for(ender, CallEnded)
        assert (ended.reason, ended.status_code) == (EndReason.LOCAL_HANGUP, 200)


# ------------------------------------------------------------------ 3c: unreachable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _blackhole() -> Iterator[int]:
    """A loopback port that drops SYNs: a listener whose accept queue is full.

    It stands in for a blackholed address such as 10.255.255.1, which this sandbox's
    egress proxy answers (with an HTTP 404) instead of dropping.
    """
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(3):  # never accepted: Linux drops later SYNs to a full queue
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port


@pytest.mark.parametrize("scheme", ["ws", "wss", "tcp", "tls"])
@pytest.mark.parametrize("where", ["closed port", "blackhole"])
async def test_unreachable_server_is_a_clear_connect_error(
    scheme: str, where: str, record_property: RecordProperty
) -> None:
    timeout = 0.5
    with _blackhole() as blackhole:
        port = _closed_port() if where == "closed port" else blackhole
        url = f"{scheme}://127.0.0.1:{port}/"
        began = anyio.current_time()
        with pytest.raises(
            ConnectError, match=f"connecting to {scheme}://127.0.0.1:{port}"
        ) as info:
            await open_transport(url, timeout=timeout)
    took = anyio.current_time() - began
    record_property("connect_error_after_s", round(took, 3))
    reason = "timed out after 0.5 s" if where == "blackhole" else "Connection refused"
    assert reason in str(info.value)
    assert took <= timeout + 0.25, (took, str(info.value))


async def test_driver_start_raises_connect_error() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/"
    config = UserAgentConfig.for_account("sip:alice@example.test", "secret")
    with pytest.raises(ConnectError, match=r"connecting to ws://127\.0\.0\.1"):
        async with open_user_agent(url, config, timeout=0.5):
            pytest.fail("connected to a closed port")


@pytest.mark.kamailio
@pytest.mark.parametrize("scheme", ["wss", "tls"])
async def test_untrusted_certificate_fails_verification(
    kamailio: KamailioServer, scheme: str
) -> None:
    # The suite's trustme CA is not among the system's: verification must fail.
    with pytest.raises(ConnectError, match="certificate verification failed"):
        await open_transport(server_url(kamailio, scheme), tls=TlsOptions(), timeout=3.0)


@pytest.mark.kamailio
@pytest.mark.parametrize("scheme", ["wss", "tls"])
async def test_insecure_tls_connects_and_warns(
    kamailio: KamailioServer, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sipadapters.tls"):
        transport = await open_transport(
            server_url(kamailio, scheme), tls=TlsOptions(insecure=True), timeout=3.0
        )
    try:
        assert transport.name == scheme
    finally:
        await transport.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("verification is OFF" in message for message in warnings), warnings


# ------------------------------------------------------------------ 3d: malformed, oversized


async def _until(connection: FakeConnection, status: int | None = None) -> sipwire.SipMessage:
    with anyio.fail_after(5):
        while True:
            message = await connection.receive_sip()
            if message.is_response and (status is None or message.status == status):
                return message


def _request(
    method: str,
    *,
    extra: list[tuple[str, str]] | None = None,
    body: str = "",
    content_type: str = "text/plain",
) -> str:
    return str(
        sipwire.request(
            method,
            "sip:alice@fake.invalid;transport=ws",
            via=f"SIP/2.0/WS fake.invalid;branch={sipwire.new_branch()}",
            from_=f"<sip:server@example.test>;tag={sipwire.new_tag()}",
            to="<sip:alice@example.test>",
            call_id=sipwire.new_call_id(),
            cseq=1,
            contact="<sip:server@fake.invalid;transport=ws>",
            extra=extra or [],
            body=body,
            content_type=content_type if body else None,
        )
    )


async def test_malformed_and_oversized_messages_are_survived() -> None:
    config = UserAgentConfig.for_account("sip:alice@example.test")
    policy = ReconnectPolicy(initial=0.1, maximum=0.2)
    async with (
        FakeWebSocketServer() as server,
        anyio.create_task_group() as task_group,
        open_user_agent(server.url, config, reconnect=policy, register=True) as alice,
    ):
        connection = await server.accept()
        await connection.send_sip(ok_to_register(await connection.receive_sip("REGISTER")))
        await wait_for(alice, Registered)
        seen: list[AnyEvent] = []

        # Garbage: dropped, reported.
        await connection.send("\x00\x01 this is not SIP at all \xff")
        garbage = await wait_for(alice, MessageDiscarded, seen=seen)
        assert garbage.status_code is None
        # Over sipcore's 65535-byte cap but within the WebSocket cap: answered 513.
        await connection.send(_request("OPTIONS", body="x" * 70_000))
        assert (await _until(connection)).status == 513
        too_big = await wait_for(alice, MessageDiscarded, seen=seen)
        assert too_big.status_code == 513
        # A header over max_header_length: its headers cannot be read back, so dropped.
        await connection.send(_request("OPTIONS", extra=[("X-Huge", "y" * 20_000)]))
        huge = await wait_for(alice, MessageDiscarded, seen=seen)
        assert "longer than" in huge.reason
        # A valid OPTIONS and INVITE still work.
        await connection.send(_request("OPTIONS"))
        assert (await _until(connection)).status == 200
        invite = _request("INVITE", body=OFFER.decode(), content_type="application/sdp")
        await connection.send(invite)
        assert (await _until(connection, 180)).cseq_method == "INVITE"
        incoming = await wait_for(alice, IncomingCall, seen=seen)
        alice.ua.reject(incoming.call_id, alice.now(), 486)
        await alice.transmit()
        assert (await _until(connection, 486)).cseq_method == "INVITE"
        assert alice.ua.registration_state is RegistrationState.REGISTERED
        assert alice.connected and not any(isinstance(e, ConnectionLost) for e in seen)

        # Over the WebSocket cap: the connection goes (1009), the phone comes back.
        await connection.send("z" * 300_000)
        lost = await wait_for(alice, ConnectionLost, seen=seen)
        assert "over 262144 bytes" in lost.error
        with contextlib.suppress(anyio.EndOfStream), anyio.fail_after(5):
            while True:  # the rest of what the phone sent, up to its Close frame
                await connection.receive()
        assert connection.close_code == 1009
        # serve_registrar answers the re-REGISTER, and the un-REGISTER when alice closes.
        task_group.start_soon(serve_registrar, await server.accept())
        await wait_for(alice, Registered)


async def test_unanswered_crlf_keepalive_fails_the_flow() -> None:
    """RFC 5626 §4.4.1 in sipcore (CRLF ping, no pong) makes the driver drop and reconnect."""
    config = UserAgentConfig.for_account(
        "sip:alice@example.test", keepalive_interval=0.3, keepalive_timeout=0.3
    )
    policy = ReconnectPolicy(initial=0.1, maximum=0.2)
    async with (
        FakeWebSocketServer() as server,
        anyio.create_task_group() as task_group,
        open_user_agent(
            server.url, config, reconnect=policy, register=True, keepalive_interval=None
        ) as alice,
    ):
        task_group.start_soon(serve_registrar, await server.accept())  # it never pongs
        await wait_for(alice, Registered)
        began = alice.now()
        await wait_for(alice, FlowFailed, timeout=2.0)
        lost = await wait_for(alice, ConnectionLost)
        assert "CRLF keepalive" in lost.error
        assert alice.now() - began <= 0.3 + 0.3 + 0.2
        task_group.start_soon(serve_registrar, await server.accept())
        await wait_for(alice, Registered)


# ------------------------------------------------------------------ 3e: wrong password


@pytest.mark.kamailio
async def test_wrong_password_is_not_retried(kamailio: KamailioServer) -> None:
    seen: list[AnyEvent] = []
    async with phone(kamailio, "bob", password="wrong") as bob:
        bob.ua.register(bob.now())
        await bob.transmit()
        failed = await wait_for(bob, RegistrationFailed, seen=seen)
        assert failed.auth_rejected and failed.status_code == 401
        assert sum(isinstance(e, RegistrationSent) for e in seen) == 2
        await anyio.to_thread.run_sync(kamailio.close_ws, local_port(bob))
        await wait_for(bob, ConnectionLost)
        abandoned = await wait_for(bob, ReconnectAbandoned)
        assert "credentials" in abandoned.reason
        later = await events_for(bob, 1.0)
        assert not any(isinstance(e, Connected | RegistrationSent) for e in later), later
        assert not bob.connected


async def test_a_forbidden_registration_ends_the_retries() -> None:
    """403 to the first REGISTER: a failure event, then no reconnection (no loop)."""
    async with FakeWebSocketServer() as server:
        config = UserAgentConfig.for_account("sip:alice@example.test", "secret")
        async with open_user_agent(
            server.url, config, timeout=2.0, keepalive_interval=None
        ) as alice:
            connection = await server.accept()
            alice.ua.register(alice.now())
            await alice.transmit()
            request = await connection.receive_sip("REGISTER")
            await connection.send_sip(sipwire.response(request, 403, "Forbidden"))
            failed = await wait_for(alice, RegistrationFailed)
            assert failed.auth_rejected and failed.status_code == 403
            await connection.aclose()
            await wait_for(alice, ConnectionLost)
            abandoned = await wait_for(alice, ReconnectAbandoned)
            assert "credentials" in abandoned.reason
            assert len(server.connections) == 1  # nobody came back
            assert not alice.connected


# ------------------------------------------------------------------ 3f: silent death


@pytest.mark.kamailio
async def test_keepalive_notices_a_silently_dead_server(
    fresh_kamailio: KamailioFactory, record_property: RecordProperty
) -> None:
    kamailio = fresh_kamailio()
    interval, timeout = 0.4, 0.4
    async with phone(
        kamailio,
        "alice",
        keepalive_interval=interval,
        keepalive_timeout=timeout,
        connect_timeout=0.5,
    ) as alice:
        await register(alice)
        # An idle line: our pings are answered (WebSocket Pong), the connection stays.
        assert not any(isinstance(e, ConnectionLost) for e in await events_for(alice, 1.2))
        transport = alice.transport
        assert transport is not None and alice.now() - transport.last_activity < interval + 0.1

        pid = kamailio.pid
        assert pid is not None
        os.killpg(pid, signal.SIGSTOP)  # alive to the kernel, silent to us
        stopped_at = alice.now()
        try:
            seen: list[AnyEvent] = []
            lost = await wait_for(alice, ConnectionLost, timeout=3.0, seen=seen)
            noticed = alice.now() - stopped_at
            record_property("dead_server_noticed_after_s", round(noticed, 3))
            assert "no answer to a keepalive" in lost.error
            assert noticed <= interval + timeout + 0.15
            # The frozen server still completes TCP handshakes (the kernel does), but
            # never the WebSocket one: the attempt times out.
            failed = await wait_for(alice, ConnectFailed, timeout=3.0, seen=seen)
            assert "timed out" in failed.error
        finally:
            os.killpg(pid, signal.SIGCONT)
        resumed_at = alice.now()
        await wait_for(alice, Registered, timeout=5.0, seen=seen)
        record_property("reregistered_after_resume_s", round(alice.now() - resumed_at, 3))
