"""A Phone whose Account names a STUN server that never answers still places and takes
calls, through the suite's Kamailio, with audio: ICE gathering waits out its bound
(``Account.ice_gathering_timeout``, 3 s by default; 1 s here) and the SDP goes out with
the host candidates."""

from __future__ import annotations

import socket
import time

import anyio
import pytest

from exotel_voice import Call, IceServer, Phone, Tone
from sipmedia import MediaConfig, dominant_frequency, tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]

BOUND = 1.0
# The default bound (3 s) and aioice alone (5 s) both exceed BOUND + MARGIN: the margin
# absorbs a busy machine, and no more.
MARGIN = 1.5


def test_a_call_connects_and_carries_audio_past_a_silent_stun_server(
    kamailio: KamailioServer,
) -> None:
    assert MediaConfig().ice_gathering_timeout > BOUND + MARGIN  # the Account's bound counts

    async def run() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            stun = (IceServer(f"stun:127.0.0.1:{silent.getsockname()[1]}"),)
            async with (
                Phone(
                    account(kamailio, "alice", ice_servers=stun, ice_gathering_timeout=BOUND),
                    source=lambda: Tone(600),
                ) as alice,
                Phone(
                    account(kamailio, "bob", ice_servers=stun, ice_gathering_timeout=BOUND),
                    source=lambda: Tone(1500),
                ) as bob,
            ):
                incoming: list[Call] = []

                async def take_one() -> None:
                    async for call in bob.incoming():
                        incoming.append(call)
                        return

                async with anyio.create_task_group() as tg:
                    tg.start_soon(take_one)
                    await anyio.sleep(0)
                    start = time.monotonic()
                    call_out = await alice.call("bob")  # returns once the INVITE is out
                    offer_took = time.monotonic() - start
                    with anyio.fail_after(5):
                        while not incoming:
                            await anyio.sleep(0.01)
                call_in = incoming[0]
                start = time.monotonic()
                await call_in.answer()  # returns once the 200 OK is out (not a 488)
                answer_took = time.monotonic() - start
                with anyio.fail_after(5):
                    await call_out.wait_connected()
                    await call_in.wait_connected()
                assert offer_took < BOUND + MARGIN, offer_took
                assert answer_took < BOUND + MARGIN, answer_took
                await anyio.sleep(1.0)
                heard_out = await call_out.recent_audio(0.4)
                heard_in = await call_in.recent_audio(0.4)
                assert tone_ratio(heard_out, 1500) > 0.8, dominant_frequency(heard_out)
                assert tone_ratio(heard_in, 600) > 0.8, dominant_frequency(heard_in)
                await call_out.hangup()
                with anyio.fail_after(5):
                    await call_in.wait_ended()

    anyio.run(run)
