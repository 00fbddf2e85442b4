"""``exotel-voice phone``: a real phone agent on a real server."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
import typer

from exotel_voice.cli.account_options import (
    AccountOptions,
    build_account,
    load_account_file,
)
from exotel_voice.cli.agent import AgentSettings, PhoneAgent
from exotel_voice.cli.options import (
    ACCOUNT_PANEL,
    AccountFileOption,
    AuthUserOption,
    CaFileOption,
    DomainOption,
    InsecureOption,
    PasswordOption,
    ServerOption,
    UserOption,
    parameter,
)
from exotel_voice.cli.output import Output
from exotel_voice.cli.play import PlaySpec, parse_play
from exotel_voice.cli.recording import check_record_path
from sipmedia import DTMF_DIGITS

__all__ = ["phone_command"]

T = TypeVar("T")

_CALLS = "Calls"
_OUTPUT = "Output"


class DtmfModeChoice(StrEnum):
    """How DTMF is sent (see ``Account.dtmf_mode``)."""

    AUTO = "auto"
    RFC4733 = "rfc4733"
    INFO = "info"


def _digits(value: str) -> str:
    bad = sorted({c for c in value if c.upper() not in DTMF_DIGITS})
    if not value or bad:
        raise ValueError(f"{value!r} has non-DTMF characters {''.join(bad)!r} (use 0-9 A-D * #)")
    return value.upper()


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{value!r}: give a positive number of seconds")
    return seconds


def _codecs(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ValueError("give codec names separated by commas, e.g. opus,PCMU")
    return names


def phone_command(
    ctx: typer.Context,
    *,
    server: ServerOption = None,
    user: UserOption = None,
    auth_user: AuthUserOption = None,
    password: PasswordOption = None,
    account_file: AccountFileOption = None,
    domain: DomainOption = None,
    display_name: Annotated[
        str | None, typer.Option(help="Our display name.", rich_help_panel=ACCOUNT_PANEL)
    ] = None,
    ca_file: CaFileOption = None,
    insecure: InsecureOption = False,
    dtmf_mode: Annotated[
        DtmfModeChoice | None,
        typer.Option(
            help="How to send DTMF: RFC 4733 if negotiated else SIP INFO (auto), or force one.",
            rich_help_panel=ACCOUNT_PANEL,
        ),
    ] = None,
    codecs: Annotated[
        tuple[str, ...] | None,
        typer.Option(
            metavar="LIST",
            parser=parameter(_codecs),
            help="Audio codecs in order of preference, e.g. opus,PCMU,PCMA.",
            rich_help_panel=ACCOUNT_PANEL,
        ),
    ] = None,
    call: Annotated[
        str | None,
        typer.Option(
            "--call",
            metavar="TARGET",
            help="Place one call (a user or sip: URI) instead of waiting; exit when it ends.",
            rich_help_panel=_CALLS,
        ),
    ] = None,
    auto_answer: Annotated[
        bool, typer.Option("--auto-answer", help="Answer incoming calls.", rich_help_panel=_CALLS)
    ] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Exit after the first incoming call ended.", rich_help_panel=_CALLS
        ),
    ] = False,
    play: Annotated[
        PlaySpec | None,
        typer.Option(
            metavar="SOURCE",
            parser=parameter(parse_play),
            help="What calls send: an audio file, tone:FREQ, silence (default), or echo "
            "(send back what is received).",
            rich_help_panel=_CALLS,
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            parser=parameter(check_record_path),
            help="Record what each call receives (.wav, .ogg, .opus, .mp3); later calls "
            "go to FILE-2, FILE-3...",
            rich_help_panel=_CALLS,
        ),
    ] = None,
    dtmf: Annotated[
        str | None,
        typer.Option(
            metavar="DIGITS",
            parser=parameter(_digits),
            help="Send these DTMF digits once a call is connected.",
            rich_help_panel=_CALLS,
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            parser=parameter(_seconds),
            help="Hang up each call this long after it connected.",
            rich_help_panel=_CALLS,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line on stdout for every registration and call event.",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
) -> int:
    """A phone on a real server: register, take or place calls, play, record, DTMF.

    Ctrl-C or SIGTERM hangs up, unregisters and exits 0.
    """
    given = AccountOptions(
        server=server,
        user=user,
        auth_user=auth_user,
        password=password,
        domain=domain,
        display_name=display_name,
        ca_file=str(ca_file) if ca_file is not None else None,
        insecure=insecure or None,
        dtmf_mode=dtmf_mode.value if dtmf_mode is not None else None,
        codecs=codecs,
    )
    if account_file is not None:
        given = given.over(load_account_file(account_file))
    settings = AgentSettings(
        account=build_account(given),
        play=play or PlaySpec("silence"),
        record=record,
        call=call,
        dtmf=dtmf,
        duration=duration,
        auto_answer=auto_answer,
        once=once,
    )
    output: Output = ctx.obj
    output.json_mode = json_output
    agent = PhoneAgent(settings, output)
    return anyio.run(agent.run, backend="asyncio")
