"""An outbound dialer: calls a list of targets, a few at a time, and reports how each went.

    export EXOTEL_VOICE_PASSWORD=...
    uv run examples/dialer.py --server wss://sip.example.com:443/ --user dialer \\
        --concurrency 2 --ring-timeout 30 --talk-time 10 --play message.wav \\
        alice bob sip:carol@example.com

Each answered call hears the message (an audio file, looped, with ``--play``; else a
1 kHz tone) for ``--talk-time`` seconds, then the dialer hangs up. Outcomes:

    answered      the call was answered
    busy          486 Busy Here, 600 Busy Everywhere, or Exotel's 480 "4001" (busy on
                  another call)
    declined      603 Decline
    no-answer     it rang for --ring-timeout seconds (the dialer cancelled), or 408/487
    unavailable   480 (not registered: offline)
    not-found     404 or 604: no such user
    failed        anything else (the status and reason say what)

``--json`` prints one JSON object per target as it finishes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json

import anyio
from account_options import account_from_options, add_account_options

from exotel_voice import (
    Account,
    Answered,
    CallStateError,
    CallStatus,
    EndCause,
    Ended,
    Phone,
    Tone,
)
from sipmedia import AudioFileError, AudioSource, FileSource

REJECTIONS = {
    486: "busy",
    600: "busy",
    603: "declined",
    480: "unavailable",
    404: "not-found",
    604: "not-found",
    408: "no-answer",
    487: "no-answer",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """How one call went."""

    target: str
    result: str
    status: int | None = None
    """The SIP status of a refusal (486, 480...), else None."""
    reason: str | None = None
    talked: float | None = None
    """Seconds connected, for answered calls."""


def classify(ended: Ended) -> str:
    """The outcome of a call that ended before it was answered."""
    if ended.cause is EndCause.TIMEOUT:
        return "no-answer"
    if (ended.status_code, ended.reason) == (480, "4001"):
        return "busy"  # what Exotel (and this SDK's phones) answer when busy on a call
    return REJECTIONS.get(ended.status_code or 0, "failed")


def message_source(play: str | None) -> AudioSource:
    """What answered calls hear: the file (looped), or a 1 kHz tone."""
    return FileSource(play, loop=True) if play else Tone(1000)


async def dial(phone: Phone, target: str, args: argparse.Namespace) -> Outcome:
    """Call ``target``, play the message if it answers, and say how it went."""
    source = message_source(args.play)
    try:
        call = await phone.call(target, source=source)
    except CallStateError as exc:  # not a SIP address, or no line free
        return Outcome(target, "failed", reason=str(exc))
    try:
        # The call's events tell how it goes; ``Ended`` carries the SIP status of a
        # refusal (486, 480...), which tells busy from offline.
        with anyio.move_on_after(args.ring_timeout):
            async for event in call.events():
                if isinstance(event, Ended):
                    return Outcome(target, classify(event), event.status_code, event.reason)
                if isinstance(event, Answered):
                    break
        if call.status is not CallStatus.CONNECTED:
            with contextlib.suppress(CallStateError):  # (it may have ended just now)
                await call.hangup()  # still ringing: give up (a CANCEL)
            await call.wait_ended()
            return Outcome(target, "no-answer")
        if not args.json:
            print(f"{target} answered: playing the message")
        with anyio.move_on_after(args.talk_time):
            await call.wait_ended()  # they may hang up before the message is over
        with contextlib.suppress(CallStateError):  # raised if they hung up first
            await call.hangup()
        await call.wait_ended()
        return Outcome(target, "answered", talked=round(call.details.duration or 0.0, 1))
    finally:
        if isinstance(source, FileSource):
            source.close()


def describe(outcome: Outcome) -> str:
    """``alice: answered (10.0 s)``, ``bob: busy (486 Busy Here)``..."""
    if outcome.talked is not None:
        detail = f"{outcome.talked:.1f} s"
    else:
        detail = " ".join(str(part) for part in (outcome.status, outcome.reason) if part)
    return f"{outcome.target}: {outcome.result}" + (f" ({detail})" if detail else "")


async def main(args: argparse.Namespace, account: Account) -> None:
    outcomes: list[Outcome] = []
    lines = anyio.CapacityLimiter(args.concurrency)

    async def dial_one(target: str) -> None:
        async with lines:  # at most --concurrency calls at a time
            outcome = await dial(phone, target, args)
        outcomes.append(outcome)
        if args.json:
            print(json.dumps(dataclasses.asdict(outcome)))
        else:
            print(describe(outcome))

    async with Phone(account) as phone, anyio.create_task_group() as calls:
        for target in args.targets:
            calls.start_soon(dial_one, target)
    if not args.json:
        counts = collections.Counter(outcome.result for outcome in outcomes)
        print("; ".join(f"{result}: {n}" for result, n in sorted(counts.items())))


def parse_args() -> tuple[argparse.Namespace, Account]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_account_options(parser)
    parser.add_argument("targets", nargs="+", help="users or sip: URIs to call")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N", help="calls at once")
    parser.add_argument(
        "--ring-timeout", type=float, default=30.0, metavar="S", help="give up after S s ringing"
    )
    parser.add_argument(
        "--talk-time", type=float, default=10.0, metavar="S", help="hang up S s after answer"
    )
    parser.add_argument("--play", metavar="FILE", help="the message (wav, mp3, ogg...)")
    parser.add_argument("--json", action="store_true", help="one JSON line per outcome")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    if args.play:
        try:
            FileSource(args.play).close()  # fail now, not at the first answered call
        except AudioFileError as exc:
            parser.error(str(exc))
    return args, account_from_options(parser, args, max_calls=args.concurrency)


if __name__ == "__main__":
    arguments, sip_account = parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: calls are hung up on the way out
        anyio.run(main, arguments, sip_account, backend=arguments.backend)
