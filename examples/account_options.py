"""The account options every example takes: ``--server``, ``--user``, ``--domain``,
``--ca-file``, and the password from ``EXOTEL_VOICE_PASSWORD`` (or ``--password``).

Shared by the examples (each imports it from beside itself); copy it with the one you
adapt.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit

from exotel_voice import Account, ConfigurationError, TlsOptions

__all__ = ["add_account_options", "account_from_options"]


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``account`` option group to ``parser``."""
    group = parser.add_argument_group("account")
    group.add_argument(
        "--server", required=True, metavar="URL", help="the SIP server: wss://host:port/path"
    )
    group.add_argument("--user", required=True, help="our SIP user (sip:USER@DOMAIN)")
    group.add_argument(
        "--password",
        default=os.environ.get("EXOTEL_VOICE_PASSWORD"),
        help="the SIP password (better: set EXOTEL_VOICE_PASSWORD)",
    )
    group.add_argument("--domain", help="the SIP domain (default: the server's host)")
    group.add_argument("--ca-file", metavar="PEM", help="trust this CA for wss://")


def account_from_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, max_calls: int = 1
) -> Account:
    """The ``Account`` the options describe; a missing or bad field exits as a usage error."""
    if not args.password:
        parser.error("no password: set EXOTEL_VOICE_PASSWORD (or give --password)")
    try:
        return Account(
            user=args.user,
            password=args.password,
            domain=args.domain or urlsplit(args.server).hostname or "",
            server=args.server,
            tls=TlsOptions(ca_file=args.ca_file),
            max_calls=max_calls,
        )
    except ConfigurationError as exc:
        parser.error(str(exc))  # names the field; never shows the password
