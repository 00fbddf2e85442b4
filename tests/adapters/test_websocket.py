"""SIP over WebSocket phones through the suite's real Kamailio, on asyncio and trio.

Registration refresh, the call flows of RFC 3261 between two phones (INVITE/100/180/
200/ACK, INFO, re-INVITE, CANCEL, BYE), the graceful close, the WebSocket handshake's
edges (against a local wsproto server), and the one-call entry points
(``sipadapters.open_user_agent`` and ``sipadapters.trio``).
"""

from __future__ import annotations

import contextlib
import re

import anyio
import pytest
import trio

from sipadapters import (
    AnyEvent,
    HandshakeError,
    TlsOptions,
    TransportClosed,
    open_transport,
    open_user_agent,
)
from sipadapters import trio as sip_trio
from sipadapters import websocket as websocket_module
from sipcore.config import UserAgentConfig
from sipcore.events import (
    CallEnded,
    CallProgressed,
    EndReason,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    Registered,
    RegistrationSent,
    ReinviteAnswered,
    ReinviteReceived,
    Unregistered,
)
from sipcore.registration import RegistrationState
from tests.adapters.phones import (
    HOLD_ANSWER,
    HOLD_OFFER,
    OFFER,
    FakeWebSocketServer,
    establish,
    phone,
    register,
    wait_for,
)
from tests.kamailio import sipwire
from tests.kamailio.plugin import KamailioFactory
from tests.kamailio.server import KamailioError, KamailioServer

pytestmark = [pytest.mark.anyio]

DTMF = b"Signal=5\r\nDuration=240\r\n"


def binding_expiry(kamailio: KamailioServer, user: str) -> list[int]:
    """Seconds left on each of ``user``'s bindings (``ul.lookup`` Expires)."""
    try:
        output = kamailio.rpc("ul.lookup", "location", user)
    except KamailioError:
        return []
    return [int(value) for value in re.findall(r"Expires:\s*(\d+)", output)]


# ------------------------------------------------------------------ registration


@pytest.mark.kamailio
async def test_registration_is_refreshed_before_it_expires(
    fresh_kamailio: KamailioFactory,
) -> None:
    # Kamailio grants what we ask down to min_expires: ask 4 s, refresh at half of it.
    kamailio = fresh_kamailio(min_expires=3)
    expires, fraction = 4, 0.5
    async with phone(
        kamailio, "alice", register_expires=expires, refresh_fraction=fraction
    ) as alice:
        seen: list[AnyEvent] = []
        first = await register(alice, seen=seen)
        registered_at = alice.now()
        assert first.expires == expires
        refreshes: list[float] = []
        for _ in range(2):
            sent = await wait_for(alice, RegistrationSent, timeout=expires)
            refreshes.append(alice.now() - registered_at)
            # the refresh reuses the registrar's nonce: no new 401 round trip
            assert "authorization" in sent.request.headers
            again = await wait_for(alice, Registered, timeout=1.0)
            assert again.expires == expires
            registered_at = alice.now()
        # Each refresh went out at the refresh fraction of the granted expiry...
        for delay in refreshes:
            assert expires * fraction - 0.05 <= delay <= expires * fraction + 0.5, refreshes
        # ...so the binding outlived the first grant, and was renewed each time.
        left = binding_expiry(kamailio, "alice")
        assert len(left) == 1 and left[0] >= expires - 1, left
        alice.ua.unregister(alice.now())
        await alice.transmit()
        await wait_for(alice, Unregistered)
        assert kamailio.contacts("alice") == []


# ------------------------------------------------------------------ calls


@pytest.mark.kamailio
@pytest.mark.parametrize("hangs_up", ["caller", "callee"])
async def test_call_with_info_and_reinvites_both_ways(
    kamailio: KamailioServer, hangs_up: str
) -> None:
    async with phone(kamailio, "carol") as carol, phone(kamailio, "dave", transport="wss") as dave:
        await register(carol)
        await register(dave)
        call_id = await establish(carol, dave, kamailio.aor("dave"))

        # INFO (RFC 6086) both ways: DTMF relay as the Exotel platform expects it.
        for sender, receiver in ((carol, dave), (dave, carol)):
            sender.ua.info(call_id, sender.now(), DTMF, "application/dtmf-relay")
            await sender.transmit()
            info = await wait_for(receiver, InfoReceived)
            assert info.request.body == DTMF
            assert (await wait_for(sender, InfoAnswered)).status_code == 200

        # re-INVITE (hold) from either side, answered by the other.
        for sender, receiver in ((carol, dave), (dave, carol)):
            sender.ua.reinvite(call_id, sender.now(), HOLD_OFFER)
            await sender.transmit()
            reinvite = await wait_for(receiver, ReinviteReceived)
            assert reinvite.request.body == HOLD_OFFER
            receiver.ua.accept_reinvite(call_id, receiver.now(), HOLD_ANSWER)
            await receiver.transmit()
            answered = await wait_for(sender, ReinviteAnswered)
            assert answered.response.body == HOLD_ANSWER

        ender, other = (carol, dave) if hangs_up == "caller" else (dave, carol)
        ender.ua.bye(call_id, ender.now())
        await ender.transmit()
        assert (await wait_for(other, CallEnded)).reason is EndReason.REMOTE_HANGUP
        assert (await wait_for(ender, CallEnded)).reason is EndReason.LOCAL_HANGUP


@pytest.mark.kamailio
async def test_cancel_before_answer_gets_487(kamailio: KamailioServer) -> None:
    async with phone(kamailio, "carol", transport="wss") as carol, phone(kamailio, "dave") as dave:
        await register(carol)
        await register(dave)
        call_id = carol.ua.invite(kamailio.aor("dave"), carol.now(), body=OFFER)
        await carol.transmit()
        await wait_for(dave, IncomingCall)
        await wait_for(carol, CallProgressed)  # RFC 3261 §9.1: CANCEL only after a 1xx
        carol.ua.cancel(call_id, carol.now())
        await carol.transmit()
        ended = await wait_for(dave, CallEnded)
        assert (ended.reason, ended.status_code) == (EndReason.REMOTE_CANCEL, 487)
        ended = await wait_for(carol, CallEnded)
        assert (ended.reason, ended.status_code) == (EndReason.LOCAL_CANCEL, 487)


@pytest.mark.kamailio
@pytest.mark.parametrize("leaving", ["normally", "cancelled"])
async def test_closing_hangs_up_and_unregisters_before_the_socket_goes(
    kamailio: KamailioServer, leaving: str
) -> None:
    received: list[bytes] = []
    async with phone(kamailio, "frank") as frank:
        await register(frank)
        with anyio.CancelScope() as scope:
            async with phone(kamailio, "erin", received=received) as erin:
                await register(erin)
                call_id = await establish(erin, frank, kamailio.aor("frank"))
                assert kamailio.contacts("erin")
                # leaving the block closes erin's driver with the call up and registered,
                # even when it is left because the enclosing scope was cancelled
                if leaving == "cancelled":
                    scope.cancel()
                    await anyio.sleep(1)
                    pytest.fail("not cancelled")
        seen = [event async for event in erin.events()]  # ends: the driver is closed
        ended = await wait_for(frank, CallEnded)
        assert (ended.call_id, ended.reason) == (call_id, EndReason.REMOTE_HANGUP)
    assert kamailio.contacts("erin") == []
    # erin heard the answers to her BYE and un-REGISTER before closing the connection
    kinds = [type(e) for e in seen]
    assert CallEnded in kinds and Unregistered in kinds
    finals = [sipwire.parse(m) for m in received if m.startswith(b"SIP/2.0 200")]
    assert {m.cseq_method for m in finals[-2:]} == {"BYE", "REGISTER"}


# ------------------------------------------------------------------ the handshake


async def test_a_server_without_the_sip_subprotocol_is_refused() -> None:
    async with FakeWebSocketServer(subprotocol=None) as server:
        with pytest.raises(HandshakeError, match="did not select the 'sip'"):
            await open_transport(server.url, timeout=2.0)


async def test_messages_in_the_same_read_as_the_upgrade_are_not_lost() -> None:
    options = _options_from_server()
    async with FakeWebSocketServer(greeting=options.encode()) as server:
        config = UserAgentConfig.for_account("sip:alice@example.test", "secret")
        async with open_user_agent(server.url, config, timeout=2.0) as alice:
            connection = await server.accept()
            answer = await connection.receive_sip()
            assert answer.status == 200 and answer.cseq_method == "OPTIONS"
            assert alice.connected


def _options_from_server() -> sipwire.SipMessage:
    return sipwire.request(
        "OPTIONS",
        "sip:alice@example.test",
        via=f"SIP/2.0/WS fake.invalid;branch={sipwire.new_branch()}",
        from_=f"<sip:server@example.test>;tag={sipwire.new_tag()}",
        to="<sip:alice@example.test>",
        call_id=sipwire.new_call_id(),
        cseq=1,
    )


async def test_the_url_path_is_kept_and_server_pings_are_answered() -> None:
    async with FakeWebSocketServer() as server:
        url = f"ws://127.0.0.1:{server.port}/ws/sip?token=abc"
        config = UserAgentConfig.for_account("sip:alice@example.test", "secret")
        async with open_user_agent(url, config, timeout=2.0, keepalive_interval=None):
            connection = await server.accept()
            assert connection.request.target == "/ws/sip?token=abc"  # RFC 7118 §5 URI
            assert connection.request.subprotocols == ["sip"]
            await connection.ping(b"are you there")
            # The Pong is sent as soon as the Ping is read, before the OPTIONS after it
            # is answered (RFC 6455 §5.5.2: "as soon as is practical").
            await connection.send_sip(_options_from_server())
            answer = await connection.receive_sip()
            assert answer.status == 200
            assert connection.pongs == [b"are you there"]


async def test_a_server_that_pings_but_never_reads_is_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our Pong is shielded (the Ping is already consumed) but bounded: a server that
    floods Pings and reads nothing ends the transport, not wedges its reader."""
    monkeypatch.setattr(websocket_module, "REPLY_TIMEOUT", 0.5)
    async with FakeWebSocketServer() as server:
        transport = await open_transport(server.url, timeout=2.0)
        connection = await server.accept()
        connection.shrink_receive_buffer()
        given_up: list[TransportClosed] = []

        async def read() -> None:
            try:
                while True:
                    await transport.receive()
            except TransportClosed as exc:
                given_up.append(exc)

        async def flood() -> None:
            # Until the client gives up; a send may then block for good (nobody reads
            # on either side any more) or fail: the flood is cancelled either way.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                while True:
                    await connection.send_pings(50)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(flood)
            with anyio.fail_after(20):
                while not given_up:
                    await anyio.sleep(0.05)
            tasks.cancel_scope.cancel()
        assert "stopped reading" in str(given_up[0])


async def test_concurrent_sends_reach_the_peer_whole_and_in_order() -> None:
    async with FakeWebSocketServer() as server:
        transport = await open_transport(server.url, timeout=2.0)
        connection = await server.accept()
        messages = [f"message {n:03d} ".encode() * 2000 for n in range(40)]  # 30 KB each
        try:
            async with anyio.create_task_group() as senders:
                for data in messages:
                    senders.start_soon(transport.send, data)
                    await anyio.lowlevel.checkpoint()  # started in this order
            received = [await connection.receive() for _ in messages]
        finally:
            await transport.aclose()
        # One WebSocket message each, none interleaved with another (frames of one
        # message must not mix with another's, RFC 6455 §5.4).
        assert sorted(received) == sorted(messages)


# ------------------------------------------------------------------ entry points


@pytest.mark.kamailio
async def test_open_user_agent_registers_and_closes(kamailio: KamailioServer) -> None:
    config = UserAgentConfig.for_account(kamailio.aor("erin"), kamailio.users["erin"])
    tls = TlsOptions(ca_file=str(kamailio.ca_file))
    async with open_user_agent(kamailio.wss_url, config, tls=tls, register=True) as erin:
        assert erin.ua.config.transport == "wss"  # taken from the URL
        await wait_for(erin, Registered)
        assert len(kamailio.contacts("erin")) == 1
    assert erin.ua.registration_state is RegistrationState.UNREGISTERED
    assert kamailio.contacts("erin") == []


@pytest.mark.kamailio
async def test_trio_entry_points(kamailio: KamailioServer, anyio_backend: str) -> None:
    """``sipadapters.trio`` on trio; on asyncio it must refuse clearly, not misbehave."""
    config = UserAgentConfig.for_account(kamailio.aor("frank"), kamailio.users["frank"])
    if anyio_backend != "trio":
        with pytest.raises(RuntimeError, match="runs under trio only"):
            async with sip_trio.open_user_agent(kamailio.ws_url, config):
                pass
        return

    async with sip_trio.open_user_agent(kamailio.ws_url, config, register=True) as frank:
        await wait_for(frank, Registered)
        assert kamailio.contacts("frank")
    assert kamailio.contacts("frank") == []

    async with trio.open_nursery() as nursery:
        frank = await nursery.start(sip_trio.serve_user_agent, kamailio.ws_url, config)
        await wait_for(frank, Registered)
        assert kamailio.contacts("frank")
        nursery.cancel_scope.cancel()  # unregisters (shielded, up to 3 s), then closes
    assert Unregistered in [type(event) async for event in frank.events()]
    assert kamailio.contacts("frank") == []
    assert not frank.connected
