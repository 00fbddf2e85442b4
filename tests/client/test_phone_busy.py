"""A Phone already in a call answers a further INVITE as Exotel's platform does.

With the default ``Account`` (``max_calls=1``, ``busy_status=(480, "4001")``) a second
incoming call is refused with ``480 4001``, which the caller's ``Ended`` reports; with
``max_calls=2`` it rings. Through the suite's Kamailio, so the status and reason are
the ones a real proxy relays.
"""

from __future__ import annotations

import asyncio

import pytest

from exotel_voice import Account, CallStatus, EndCause, Ended, Phone, Ringing, Tone
from sipmedia import tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]


def test_default_account_answers_a_second_call_480_4001(kamailio: KamailioServer) -> None:
    callee_account = account(kamailio, "frank")
    assert (callee_account.max_calls, callee_account.busy_status) == (1, (480, "4001"))

    async def run() -> None:
        async with (
            Phone(account(kamailio, "dave", max_calls=2), source=lambda: Tone(700)) as dave,
            Phone(callee_account, source=lambda: Tone(1900)) as frank,
        ):
            incoming = frank.incoming()
            first_out = await dave.call("frank")
            first_in = await asyncio.wait_for(anext(incoming), 5)
            await first_in.answer()
            await asyncio.wait_for(first_out.wait_connected(), 5)

            second_out = await dave.call("frank")
            ended = await asyncio.wait_for(second_out.wait_ended(), 5)
            assert ended == Ended(EndCause.REMOTE_REJECT, 480, "4001")
            assert second_out.details.ended == ended
            assert [call.id for call in frank.calls] == [first_in.id]  # never offered

            # The first call is untouched: still connected, still heard.
            assert first_in.status is first_out.status is CallStatus.CONNECTED
            await asyncio.sleep(0.5)
            assert tone_ratio(await first_out.recent_audio(0.3), 1900) > 0.8
            incoming.close()

    asyncio.run(run())


def test_max_calls_2_lets_a_second_call_ring(kamailio: KamailioServer) -> None:
    async def run() -> None:
        callee: Account = account(kamailio, "frank", max_calls=2)
        async with (
            Phone(account(kamailio, "dave", max_calls=2)) as dave,
            Phone(callee) as frank,
        ):
            incoming = frank.incoming()
            first_out = await dave.call("frank")
            first_in = await asyncio.wait_for(anext(incoming), 5)
            await first_in.answer()
            await asyncio.wait_for(first_out.wait_connected(), 5)

            second_out = await dave.call("frank")
            progress = second_out.events()  # subscribed before any answer can arrive
            second_in = await asyncio.wait_for(anext(incoming), 5)
            assert second_in.status is CallStatus.INCOMING
            assert await asyncio.wait_for(anext(progress), 5) == Ringing(180)
            assert not second_out.ended
            await second_in.answer()
            await asyncio.wait_for(second_out.wait_connected(), 5)
            assert len(frank.calls) == 2
            incoming.close()

    asyncio.run(run())
