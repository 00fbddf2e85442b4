"""An IVR: answers with a menu prompt and reacts to the caller's DTMF keys.

    export EXOTEL_VOICE_PASSWORD=...
    uv run examples/ivr.py --server wss://sip.example.com:443/ --user ivr

The menu (no recorded speech needed: the prompt is a beep pattern, two 440 Hz beeps
repeated every two seconds):

    1   a 1 kHz test tone, until the next key
    2   echo: hear yourself
    9   goodbye (three falling beeps) and hang up
    any other key: the menu again

With no key for ``--menu-timeout`` seconds, the IVR says goodbye too. Keys arrive as
``DtmfReceived`` events whichever way the caller sends them (RFC 4733 or SIP INFO).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

import anyio
import numpy as np
from account_options import account_from_options, add_account_options

from exotel_voice import (
    Account,
    Call,
    CallStateError,
    DtmfReceived,
    Phone,
    Tone,
)
from sipmedia import SAMPLE_RATE, Pcm, silence

MENU = ((440.0, 0.25), (0.0, 0.15), (440.0, 0.25), (0.0, 1.5))
"""The prompt: (Hz, seconds) steps, 0 Hz being a pause."""
GOODBYE = ((660.0, 0.2), (0.0, 0.05), (550.0, 0.2), (0.0, 0.05), (440.0, 0.4))
TEST_TONE_HZ = 1000.0


class Beeps:
    """An audio source playing beeps and pauses, once or over and over.

    Anything with ``read(samples) -> Pcm`` (48 kHz mono int16) can be what a call sends;
    ``read`` is called every 20 ms on the media loop, so it must return at once.

    Args:
        steps: (frequency in Hz, seconds) pairs; a frequency of 0 is a pause.
        repeat: start over at the end (else send silence after it).
    """

    def __init__(self, steps: Sequence[tuple[float, float]], *, repeat: bool) -> None:
        parts = [
            Tone(hz).read(round(s * SAMPLE_RATE)) if hz else silence(round(s * SAMPLE_RATE))
            for hz, s in steps
        ]
        self._pcm: Pcm = np.concatenate(parts)
        self._position = 0
        self._repeat = repeat
        self.seconds = self._pcm.size / SAMPLE_RATE
        """How long one pass lasts."""

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` of the pattern (silence once a single pass is over)."""
        out = silence(samples)
        filled = 0
        while filled < samples:
            if self._position == self._pcm.size:
                if not self._repeat:
                    break
                self._position = 0
            take = min(samples - filled, self._pcm.size - self._position)
            out[filled : filled + take] = self._pcm[self._position : self._position + take]
            filled += take
            self._position += take
        return out


async def menu(call: Call, timeout: float) -> None:
    """Run the menu on ``call`` until the caller presses 9, goes quiet, or hangs up."""
    caller = call.details.remote_uri
    await call.answer(Beeps(MENU, repeat=True))
    print(f"{caller}: menu")
    # Any key restarts the timer; when it runs out, the loop below is left.
    with anyio.move_on_after(timeout) as idle:
        async for event in call.events():  # until the call ends
            if not isinstance(event, DtmfReceived):
                continue
            idle.deadline = anyio.current_time() + timeout
            print(f"{caller} pressed {event.digit}")
            if event.digit == "1":
                call.play(Tone(TEST_TONE_HZ))
            elif event.digit == "2":
                await call.echo()
            elif event.digit == "9":
                break
            else:
                call.play(Beeps(MENU, repeat=True))
    if call.ended:
        print(f"{caller} hung up")
        return
    goodbye = Beeps(GOODBYE, repeat=False)
    call.play(goodbye)
    await anyio.sleep(goodbye.seconds + 0.2)  # let the last beep reach the caller
    await call.hangup()
    print(f"{caller}: goodbye")


async def serve_call(call: Call, timeout: float) -> None:
    try:
        await menu(call, timeout)
    except CallStateError as exc:  # the caller hung up in the middle of something
        print(f"{call.details.remote_uri}: {exc}")


async def main(args: argparse.Namespace, account: Account) -> None:
    async with Phone(account) as phone:
        print(f"IVR {account.aor} is registered; call it")
        with anyio.move_on_after(args.duration):
            async with anyio.create_task_group() as calls:
                taken = 0
                async for call in phone.incoming():
                    calls.start_soon(serve_call, call, args.menu_timeout)
                    taken += 1
                    if taken == args.max_calls:
                        break  # the task group waits for the calls in progress


def parse_args() -> tuple[argparse.Namespace, Account]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_account_options(parser)
    parser.add_argument(
        "--menu-timeout", type=float, default=30.0, metavar="S", help="hang up after S s idle"
    )
    parser.add_argument("--concurrent", type=int, default=4, metavar="N", help="calls at once")
    parser.add_argument("--max-calls", type=int, metavar="N", help="exit after N calls")
    parser.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    return args, account_from_options(parser, args, max_calls=args.concurrent)


if __name__ == "__main__":
    arguments, sip_account = parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: calls are hung up on the way out
        anyio.run(main, arguments, sip_account, backend=arguments.backend)
