"""A call recorder: answers every call with a beep and records what the caller says.

    export EXOTEL_VOICE_PASSWORD=...
    uv run examples/recorder.py --server wss://sip.example.com:443/ --user voicemail \\
        --folder recordings --format ogg --max-length 60

Each call goes to its own file, ``<folder>/<date>-<time>-<caller>-<n>.<format>``
(``wav``, ``ogg``/``opus`` or ``mp3``), finished when the call ends: when the caller hangs
up, or after ``--max-length`` seconds, when the recorder does.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import re
from pathlib import Path

import anyio
from account_options import account_from_options, add_account_options

from exotel_voice import (
    Account,
    Call,
    CallStateError,
    PcmWriter,
    Phone,
    Tone,
)


def beep() -> PcmWriter:
    """A quarter of a second of 1 kHz, then silence: what callers hear when we answer."""
    writer = PcmWriter()
    writer.write(Tone(1000).read(48_000 // 4))
    return writer


async def record(call: Call, path: Path, max_length: float) -> None:
    """Answer ``call`` and record what it receives to ``path`` until it ends."""
    caller = call.details.remote_uri
    try:
        await call.answer(beep())
        await call.record(path)  # the format follows the suffix
    except CallStateError:
        return  # the caller gave up before we answered
    print(f"recording {caller} to {path}")
    with anyio.move_on_after(max_length):
        await call.wait_ended()
    with contextlib.suppress(CallStateError):  # raised if the caller hung up first
        await call.hangup()
    ended = await call.wait_ended()  # the file is complete once the call has ended
    seconds = call.details.duration or 0.0
    print(f"saved {path} ({seconds:.1f} s, {ended.cause.value})")


def file_for(call: Call, folder: Path, number: int, suffix: str) -> Path:
    """``<folder>/<date>-<time>-<caller>-<number>.<suffix>``, safe as a file name."""
    user = call.details.remote_display_name or "unknown"
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", user)
    return folder / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{safe}-{number}.{suffix}"


async def main(args: argparse.Namespace, account: Account) -> None:
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    async with Phone(account) as phone:
        print(f"recorder {account.aor} is registered; files go to {folder}")
        with anyio.move_on_after(args.duration):
            async with anyio.create_task_group() as calls:
                taken = 0
                async for call in phone.incoming():
                    taken += 1
                    path = file_for(call, folder, taken, args.format)
                    calls.start_soon(record, call, path, args.max_length)
                    if taken == args.max_calls:
                        break  # the task group waits for the calls in progress


def parse_args() -> tuple[argparse.Namespace, Account]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_account_options(parser)
    parser.add_argument("--folder", default="recordings", help="where files go (%(default)s)")
    parser.add_argument("--format", choices=("wav", "ogg", "opus", "mp3"), default="wav")
    parser.add_argument(
        "--max-length", type=float, default=300.0, metavar="S", help="hang up after S seconds"
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
