"""examples/ivr.py, on trio: the menu prompt, then keys 1 (tone), 2 (echo), 9 (hang up),
and the idle timeout."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from exotel_voice import EndCause
from sipmedia import Pcm
from tests.examples.harness import (
    dev_server,
    example_args,
    hears,
    peer,
    registered,
    running,
    tones_in_order,
)

pytestmark = pytest.mark.anyio

MENU_HZ = 440.0
BEEP_WINDOW = 0.1  # the menu's beeps last 0.25 s
TEST_TONE_HZ = 1000.0
GOODBYE = [660.0, 550.0, 440.0]  # three falling beeps


async def test_ivr_menu_reacts_to_digits_and_to_silence() -> None:
    with anyio.fail_after(45):
        async with dev_server() as server:
            ivr_args = [*example_args(server, "bot"), "--menu-timeout", "3", "--max-calls", "2"]
            heard: list[Pcm] = []  # every chunk alice's calls receive
            async with (
                running("ivr.py", *ivr_args, "--backend", "trio") as ivr,
                peer(server, "alice", 700, heard=heard) as alice,
            ):
                await registered(server, "bot")
                call = await alice.call("bot")
                await call.wait_connected()
                await hears(call, MENU_HZ, window=BEEP_WINDOW)  # the prompt's beeps

                await call.send_dtmf("1")
                await hears(call, TEST_TONE_HZ)
                await ivr.line(r"sip:alice@local\.test pressed 1$")

                await call.send_dtmf("2")
                await hears(call, 700)  # our own tone, echoed
                await ivr.line(r"pressed 2$")

                await call.send_dtmf("*")  # any other key: the menu again
                await hears(call, MENU_HZ, window=BEEP_WINDOW)

                before_goodbye = len(heard)
                await call.send_dtmf("9")
                with anyio.fail_after(5):
                    ended = await call.wait_ended()
                assert ended.cause is EndCause.REMOTE_HANGUP  # the IVR hung up...
                assert tones_in_order(np.concatenate(heard[before_goodbye:]), GOODBYE)
                await ivr.line(r"sip:alice@local\.test: goodbye$")  # ...after its goodbye

                # Second call: no key at all, so the menu times out and says goodbye.
                quiet = await alice.call("bot")
                await quiet.wait_connected()
                started = anyio.current_time()
                with anyio.fail_after(8):
                    ended = await quiet.wait_ended()
                assert ended.cause is EndCause.REMOTE_HANGUP
                assert anyio.current_time() - started >= 3.0  # not before the timeout
                assert await ivr.exit() == 0
