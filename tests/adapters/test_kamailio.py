"""sipcore + sipadapters against the suite's real Kamailio, on asyncio and trio."""

from __future__ import annotations

import pytest

from sipadapters import AnyEvent, Connected
from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    EndReason,
    IncomingCall,
    Registered,
    RegistrationFailed,
    RegistrationSent,
    Unregistered,
)
from tests.adapters.phones import phone, wait_for
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.anyio, pytest.mark.kamailio]

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
ANSWER = OFFER.replace(b"4000", b"5000")


@pytest.mark.parametrize("transport", ["ws", "wss"])
async def test_register_and_unregister(kamailio: KamailioServer, transport: str) -> None:
    seen: list[AnyEvent] = []
    async with phone(kamailio, "alice", transport=transport) as alice:
        await wait_for(alice, Connected)
        alice.ua.register(alice.now())
        await alice.transmit()
        registered = await wait_for(alice, Registered, seen=seen)
        assert registered.expires > 0
        sent = [e for e in seen if isinstance(e, RegistrationSent)]
        assert len(sent) == 2  # 401, then the authenticated REGISTER
        contacts = kamailio.contacts("alice")
        assert len(contacts) == 1
        assert f".invalid;transport={transport};ob" in contacts[0]
        alice.ua.unregister(alice.now())
        await alice.transmit()
        await wait_for(alice, Unregistered)
        assert kamailio.contacts("alice") == []


async def test_wrong_password_fails_after_two_registers(kamailio: KamailioServer) -> None:
    seen: list[AnyEvent] = []
    async with phone(kamailio, "bob", password="wrong") as bob:
        bob.ua.register(bob.now())
        await bob.transmit()
        failed = await wait_for(bob, RegistrationFailed, seen=seen)
        assert failed.auth_rejected
        assert sum(isinstance(e, RegistrationSent) for e in seen) == 2


async def test_call_between_two_websocket_phones(kamailio: KamailioServer) -> None:
    async with phone(kamailio, "carol") as carol, phone(kamailio, "dave", transport="wss") as dave:
        for p in (carol, dave):
            p.ua.register(p.now())
            await p.transmit()
            await wait_for(p, Registered)
        call_id = carol.ua.invite(kamailio.aor("dave"), carol.now(), body=OFFER)
        await carol.transmit()
        incoming = await wait_for(dave, IncomingCall)
        assert incoming.call_id == call_id
        assert incoming.request.body == OFFER
        dave.ua.answer(call_id, dave.now(), body=ANSWER)
        await dave.transmit()
        answered = await wait_for(carol, CallAnswered)
        assert answered.response.body == ANSWER
        await wait_for(dave, CallConfirmed)
        carol.ua.bye(call_id, carol.now())
        await carol.transmit()
        assert (await wait_for(dave, CallEnded)).reason is EndReason.REMOTE_HANGUP
        assert (await wait_for(carol, CallEnded)).reason is EndReason.LOCAL_HANGUP
