"""The Pythonic API on trio: media runs in sipmedia's asyncio thread, bridged back."""

from __future__ import annotations

import pytest
import trio

from exotel_voice import Call, DtmfReceived, EndCause, Phone, Tone
from sipmedia import tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]


def test_call_with_audio_and_dtmf_on_trio(kamailio: KamailioServer) -> None:
    async def run() -> None:
        async with (
            Phone(account(kamailio, "carol"), source=lambda: Tone(800)) as carol,
            Phone(account(kamailio, "dave"), source=lambda: Tone(1700)) as dave,
        ):
            incoming: list[Call] = []

            async def take_one() -> None:
                async for call in dave.incoming():
                    incoming.append(call)
                    return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(take_one)
                await trio.sleep(0)
                call_out = await carol.call("dave")
                with trio.fail_after(5):
                    while not incoming:
                        await trio.sleep(0.01)
            call_in = incoming[0]
            await call_in.answer()
            with trio.fail_after(5):
                await call_out.wait_connected()
                await call_in.wait_connected()
            await trio.sleep(1.0)
            assert tone_ratio(await call_out.recent_audio(0.4), 1700) > 0.8
            assert tone_ratio(await call_in.recent_audio(0.4), 800) > 0.8

            digits: list[str] = []

            async def collect() -> None:
                async for event in call_in.events():
                    if isinstance(event, DtmfReceived):
                        digits.append(event.digit)
                        if len(digits) == 3:
                            return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect)
                await trio.sleep(0)
                await call_out.send_dtmf("9*0")
            assert digits == ["9", "*", "0"]
            await call_out.hangup()
            with trio.fail_after(5):
                await call_in.wait_ended()
            assert call_in.details.end_cause is EndCause.REMOTE_HANGUP

    trio.run(run)
