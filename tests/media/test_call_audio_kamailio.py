"""The thin path end to end: WebSocket -> Kamailio -> a call -> real audio both ways."""

from __future__ import annotations

import anyio
import pytest

from sipcore.events import CallAnswered, IncomingCall, Registered
from sipmedia import MediaConfig, MediaSession, Tone, dominant_frequency, tone_ratio
from tests.adapters.phones import phone, wait_for
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]


@pytest.mark.parametrize("codec", ["opus", "PCMU"])
def test_two_phones_hear_each_others_tone(kamailio: KamailioServer, codec: str) -> None:
    async def run() -> None:
        config = MediaConfig(codecs=(codec,))
        async with (
            phone(kamailio, "erin") as erin,
            phone(kamailio, "frank", transport="wss") as frank,
        ):
            for p in (erin, frank):
                p.ua.register(p.now())
                await p.transmit()
                await wait_for(p, Registered)
            erin_media = MediaSession(config, Tone(700))
            frank_media = MediaSession(config, Tone(1300))
            try:
                offer = await erin_media.create_offer()
                call_id = erin.ua.invite(kamailio.aor("frank"), erin.now(), body=offer.encode())
                await erin.transmit()
                incoming = await wait_for(frank, IncomingCall)
                answer = await frank_media.create_answer(incoming.request.body.decode())
                frank.ua.answer(call_id, frank.now(), body=answer.encode())
                await frank.transmit()
                answered = await wait_for(erin, CallAnswered)
                await erin_media.accept_answer(answered.response.body.decode())
                await anyio.sleep(1.5)
                heard_by_erin = erin_media.inbound.recent(0.5)
                heard_by_frank = frank_media.inbound.recent(0.5)
                assert tone_ratio(heard_by_erin, 1300) > 0.8, dominant_frequency(heard_by_erin)
                assert tone_ratio(heard_by_frank, 700) > 0.8, dominant_frequency(heard_by_frank)
                erin.ua.bye(call_id, erin.now())
                await erin.transmit()
            finally:
                await erin_media.close()
                await frank_media.close()

    anyio.run(run, backend="asyncio")
