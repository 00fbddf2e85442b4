"""An echo bot: answers every call, beeps once, then plays back what the caller says.

    export EXOTEL_VOICE_PASSWORD=...
    uv run examples/echo_bot.py --server wss://sip.example.com:443/ --user bot

It shows the audio path of any voice bot: each received 20 ms chunk of PCM arrives in a
callback (the call's *sink*), and whatever the bot writes to a ``PcmWriter`` (the call's
*source*) is sent, paced in real time. A speech bot puts recognition in the sink and its
synthesized replies in the writer; this one writes the chunks straight back.
(``await call.echo()`` does the same in one line.)

Several callers are served at once, each with their own audio.
"""

from __future__ import annotations

import argparse
import contextlib

import anyio
from account_options import account_from_options, add_account_options

from exotel_voice import (
    Account,
    AudioConfig,
    Call,
    CallStateError,
    PcmWriter,
    Phone,
    Tone,
)

BEEP = Tone(880).read(48_000 // 5)
"""A fifth of a second of 880 Hz (48 kHz mono int16, the SDK's PCM format)."""


async def echo(call: Call) -> None:
    """Answer ``call`` and send back everything it receives until it ends."""
    caller = call.details.remote_uri
    try:
        await call.answer()
    except CallStateError:
        return  # the caller gave up before we answered
    audio = call.audio  # this call's own source and sink (the phone has an AudioConfig)
    assert audio is not None
    loop = PcmWriter(max_seconds=1.0)  # at most a second behind; older audio is dropped
    loop.write(BEEP)  # "ready"
    audio.use_source(loop)  # send what the writer holds...
    audio.use_sink(loop.write)  # ...which is what we receive (on the media thread)
    print(f"echoing {caller}")
    ended = await call.wait_ended()
    print(f"call from {caller} ended: {ended.cause.value}")


async def main(args: argparse.Namespace, account: Account) -> None:
    # A bot touches no sound card: calls send silence and receive into nothing until
    # each call gets its own source and sink in echo().
    audio = AudioConfig(source="silence", sink=None)
    async with Phone(account, audio=audio) as phone:
        print(f"echo bot {account.aor} is registered; call it")
        with anyio.move_on_after(args.duration):
            async with anyio.create_task_group() as calls:
                taken = 0
                async for call in phone.incoming():
                    calls.start_soon(echo, call)
                    taken += 1
                    if taken == args.max_calls:
                        break  # the task group waits for the calls in progress
    # Leaving the Phone block hangs up what is left and unregisters.


def parse_args() -> tuple[argparse.Namespace, Account]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_account_options(parser)
    parser.add_argument(
        "--concurrent", type=int, default=4, metavar="N", help="calls served at once (4)"
    )
    parser.add_argument("--max-calls", type=int, metavar="N", help="exit after N calls")
    parser.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    return args, account_from_options(parser, args, max_calls=args.concurrent)


if __name__ == "__main__":
    arguments, sip_account = parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: calls are hung up on the way out
        anyio.run(main, arguments, sip_account, backend=arguments.backend)
