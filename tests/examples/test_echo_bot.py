"""examples/echo_bot.py: two callers at once, each hears the beep, then their own audio."""

from __future__ import annotations

import anyio
import pytest

from exotel_voice import Call, EndCause
from sipmedia import tone_ratio
from tests.examples.harness import (
    TONE_SHARE,
    dev_server,
    example_args,
    hears,
    onset,
    peer,
    registered,
    running,
)

pytestmark = pytest.mark.anyio

BEEP_HZ = 880.0  # the bot's "ready" beep


async def test_echo_bot_sends_each_caller_their_own_audio() -> None:
    with anyio.fail_after(40):
        async with (
            dev_server() as server,
            running("echo_bot.py", *example_args(server, "bot"), "--max-calls", "2") as bot,
        ):
            await registered(server, "bot")
            async with peer(server, "alice", 600) as alice, peer(server, "bob", 1500) as bob:
                calls: list[Call] = [await alice.call("bot"), await bob.call("bot")]
                for call in calls:
                    await call.wait_connected()
                for call, mine, theirs in ((calls[0], 600, 1500), (calls[1], 1500, 600)):
                    await hears(call, mine)
                    heard = await call.recent_audio(10)  # the whole call so far
                    assert tone_ratio(onset(heard, 0.15), BEEP_HZ) > TONE_SHARE, "no beep first"
                    assert tone_ratio(await call.recent_audio(0.5), theirs) < 0.05
                for call in calls:
                    await call.hangup()
                    await call.wait_ended()
            assert await bot.exit() == 0  # --max-calls 2: both served, it stops by itself
            assert await bot.line(r"^echo bot sip:bot@local\.test is registered")
            for user in ("alice", "bob"):
                await bot.line(rf"^call from sip:{user}@local\.test ended: remote hangup$")


async def test_echo_bot_hangs_up_its_calls_when_its_time_is_up() -> None:
    with anyio.fail_after(30):
        async with (
            dev_server() as server,
            running("echo_bot.py", *example_args(server, "bot"), "--duration", "4") as bot,
            peer(server, "alice", 600) as alice,
        ):
            await registered(server, "bot")
            call = await alice.call("bot")
            await call.wait_connected()
            await hears(call, 600)
            ended = await call.wait_ended()  # the bot's --duration ran out mid-call
            assert ended.cause is EndCause.REMOTE_HANGUP
            assert await bot.exit() == 0
            with anyio.fail_after(5):  # and it unregistered on its way out
                while server.server.bindings("bot"):
                    await anyio.sleep(0.05)
