"""Command-line options more than one command takes: the account, and typer helpers.

``phone`` and ``diagnose`` declare their account options with these aliases, so both
spell, check and document them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from exotel_voice.cli.account_options import check_server_url

__all__ = [
    "ACCOUNT_PANEL",
    "parameter",
    "ServerOption",
    "UserOption",
    "AuthUserOption",
    "PasswordOption",
    "AccountFileOption",
    "DomainOption",
    "CaFileOption",
    "InsecureOption",
]

ACCOUNT_PANEL = "Account"

T = TypeVar("T")


def parameter(parse: Callable[[str], T]) -> Callable[[str], T]:
    """A typer ``parser`` from a function raising ``ValueError`` with a plain message."""

    def parser(value: str) -> T:
        try:
            return parse(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parser


ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        metavar="URL",
        parser=parameter(check_server_url),
        help="The SIP-over-WebSocket server: ws://host:port/path or wss://...",
        rich_help_panel=ACCOUNT_PANEL,
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option(help="Our SIP user (sip:USER@DOMAIN).", rich_help_panel=ACCOUNT_PANEL),
]
AuthUserOption = Annotated[
    str | None,
    typer.Option(help="The digest user name, if not --user.", rich_help_panel=ACCOUNT_PANEL),
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        envvar="EXOTEL_VOICE_PASSWORD",
        show_envvar=True,
        help="The SIP password (prefer the variable or an account file: a command "
        "line is visible to other users of this machine).",
        rich_help_panel=ACCOUNT_PANEL,
    ),
]
AccountFileOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="TOML or JSON with the guide's sipAccountInfo keys or Account fields; "
        "options given here win.",
        rich_help_panel=ACCOUNT_PANEL,
    ),
]
DomainOption = Annotated[
    str | None,
    typer.Option(
        help="The SIP domain (default: the server's host).", rich_help_panel=ACCOUNT_PANEL
    ),
]
CaFileOption = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        help="Trust this CA (PEM) for wss:// instead of the system's.",
        rich_help_panel=ACCOUNT_PANEL,
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure",
        help="Do not verify the server's certificate (only against a server you control).",
        rich_help_panel=ACCOUNT_PANEL,
    ),
]
