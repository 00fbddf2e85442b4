"""Guide 5.12 at the SDK level: a Phone whose connection the server cuts mid-call.

The Phone reconnects and re-registers by itself, and the call survives: the cut phone
refreshes the dialog's target with a re-INVITE on its new connection (docs/api.md,
docs/guide-mapping.md 5.12), so the far end's requests reach it again. Against the
suite's Kamailio, with tones both ways; the driver-level version of this is in
tests/adapters/test_faults.py.
"""

from __future__ import annotations

import asyncio

import pytest

from exotel_voice import (
    Call,
    CallStatus,
    Connected,
    Disconnected,
    EndCause,
    Phone,
    PhoneEvent,
    ReconnectPolicy,
    Registered,
    RegistrationFailed,
    Tone,
    Unregistered,
)
from sipmedia import tone_ratio
from tests.client.accounts import account
from tests.kamailio.plugin import KamailioFactory
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]

FAST = ReconnectPolicy(initial=0.2, maximum=1.0)


def local_port(phone: Phone) -> int:
    """The phone's port on its current connection (what Kamailio sees)."""
    driver = phone._driver
    assert driver is not None and driver.transport is not None, "not connected"
    return driver.transport.local_address[1]


async def hears(call: Call, frequency: float, timeout: float = 5.0) -> None:
    """Until the last 0.3 s ``call`` received is the tone ``frequency`` (or fail)."""

    async def poll() -> None:
        while tone_ratio(await call.recent_audio(0.3), frequency) < 0.8:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), timeout)


async def connected_call(caller: Phone, callee: Phone, target: str) -> tuple[Call, Call]:
    incoming = callee.incoming()
    call_out = await caller.call(target)
    call_in = await asyncio.wait_for(anext(incoming), 5)
    incoming.close()
    await call_in.answer()
    await asyncio.wait_for(call_out.wait_connected(), 5)
    await asyncio.wait_for(call_in.wait_connected(), 5)
    return call_out, call_in


@pytest.mark.parametrize(
    ("fault", "cut_side"), [("close_ws", "callee"), ("drop_connection", "caller")]
)
def test_call_survives_the_server_cutting_a_phones_connection(
    fresh_kamailio: KamailioFactory, fault: str, cut_side: str
) -> None:
    kamailio: KamailioServer = fresh_kamailio()

    async def run() -> None:
        async with (
            Phone(account(kamailio, "alice"), source=lambda: Tone(600), reconnect=FAST) as alice,
            Phone(account(kamailio, "bob"), source=lambda: Tone(1500), reconnect=FAST) as bob,
        ):
            call_out, call_in = await connected_call(alice, bob, "bob")
            await asyncio.gather(hears(call_out, 1500), hears(call_in, 600))
            cut, cut_call, other_call = (
                (bob, call_in, call_out) if cut_side == "callee" else (alice, call_out, call_in)
            )
            user = cut.account.user
            assert len(kamailio.contacts(user)) == 1

            seen: list[PhoneEvent] = []
            events = cut.events()
            call_events: list[object] = []

            async def follow_call() -> None:
                async for event in cut_call.events():  # until the call ends
                    call_events.append(event)

            follower = asyncio.create_task(follow_call())
            await asyncio.sleep(0)
            port = local_port(cut)
            await asyncio.to_thread(getattr(kamailio, fault), port)

            async def until_registered() -> None:
                async for event in events:
                    seen.append(event)
                    if isinstance(event, Registered):
                        return

            await asyncio.wait_for(until_registered(), 10)
            kinds = [type(event) for event in seen]
            assert RegistrationFailed not in kinds, seen
            lost = kinds.index(Disconnected)
            back = next(
                i for i, e in enumerate(seen) if isinstance(e, Connected) and e.reconnection
            )
            assert lost < back < kinds.index(Registered), seen
            assert Unregistered in kinds[: kinds.index(Registered)], seen  # the flow's binding
            disconnected = seen[lost]
            assert isinstance(disconnected, Disconnected)
            assert ("closed the WebSocket" in disconnected.error) == (fault == "close_ws")
            assert cut.connected and cut.registered
            assert local_port(cut) != port

            # The call went on: connected on both sides, no Ended anywhere.
            assert cut_call.status is CallStatus.CONNECTED, cut_call
            assert other_call.status is CallStatus.CONNECTED, other_call
            assert not other_call.remote_on_hold
            # Audio still flows both ways: new tones, so nothing heard before the cut counts.
            cut_call.play(Tone(900))
            other_call.play(Tone(2100))
            await asyncio.gather(hears(other_call, 900), hears(cut_call, 2100))

            # Exactly one binding: the new flow's (the dead one was removed, not duplicated).
            assert len(kamailio.contacts(user)) == 1, kamailio.contacts(user)

            # The far end's BYE reaches the reconnected phone: its target was refreshed.
            await other_call.hangup()
            ended = await asyncio.wait_for(cut_call.wait_ended(), 5)
            assert ended.cause is EndCause.REMOTE_HANGUP, ended
            assert (await other_call.wait_ended()).cause is EndCause.LOCAL_HANGUP
            await asyncio.wait_for(follower, 5)
            assert call_events == [ended], call_events  # nothing else happened to it
            events.close()

    asyncio.run(run())
