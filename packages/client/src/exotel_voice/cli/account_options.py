"""The account of ``exotel-voice phone``: from options, the environment and an account file.

An account file is TOML or JSON holding either the guide's ``sipAccountInfo`` keys
(``userName``, ``secret``, ``sipdomain``, ``domain``, ``port``, ``security``...; also
nested under a ``sipAccountInfo`` key) or this SDK's ``Account`` fields (``user``,
``password``, ``domain``, ``server``, ``auth_user``, ``display_name``, ``ca_file``,
``insecure``, ``dtmf_mode``, ``codecs``, ``ice_servers``). Options given on the command
line win over the file; the password comes from ``--password``, else the
``EXOTEL_VOICE_PASSWORD`` variable, else the file.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from exotel_voice.account import Account
from exotel_voice.cli.errors import UsageProblem
from exotel_voice.errors import ConfigurationError
from exotel_voice.webclient.account_info import account_from_sip_account_info
from sipadapters import TlsOptions
from sipmedia import IceServer

__all__ = ["AccountOptions", "load_account_file", "build_account", "check_server_url"]

_GUIDE_KEYS = frozenset({"userName", "sipdomain", "secret"})
_SCHEMES = ("ws", "wss", "tcp", "tls", "udp")


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """Account settings from one place (the command line or a file); ``None``: not given."""

    server: str | None = None
    user: str | None = None
    auth_user: str | None = None
    password: str | None = field(default=None, repr=False)
    domain: str | None = None
    display_name: str | None = None
    ca_file: str | None = None
    insecure: bool | None = None
    dtmf_mode: str | None = None
    codecs: tuple[str, ...] | None = None
    ice_servers: tuple[str, ...] | None = None

    def over(self, base: AccountOptions) -> AccountOptions:
        """These settings, with ``base`` filling in what is not given here."""
        merged = {}
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            merged[f.name] = getattr(base, f.name) if mine is None else mine
        return AccountOptions(**merged)


def check_server_url(value: str) -> str:
    """Check a ``--server`` value.

    Raises:
        ValueError: not a ws://, wss://, tcp://, tls:// or udp:// URL with a host.
    """
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has a bad port number") from None
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(
            f"{value!r} is not a ws:// or wss:// URL (e.g. wss://sip.example.com:443/)"
        )
    del port
    return value.strip()


def _from_guide(info: Mapping[str, Any]) -> AccountOptions:
    account = account_from_sip_account_info(info)
    return AccountOptions(
        server=account.server,
        user=account.user,
        auth_user=account.auth_user,
        password=account.password,
        domain=account.domain,
        display_name=account.display_name,
        ca_file=account.tls.ca_file,
        insecure=account.tls.insecure or None,
        ice_servers=tuple(server.urls for server in account.ice_servers) or None,
    )


def _text_field(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageProblem(f"account file: {key!r} must be a string")
    return value


def _from_fields(data: Mapping[str, Any]) -> AccountOptions:
    known = {f.name for f in dataclasses.fields(AccountOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageProblem(
            f"account file: unknown keys {', '.join(unknown)} (expected the guide's "
            f"sipAccountInfo keys or {', '.join(sorted(known))})"
        )
    insecure = data.get("insecure")
    if insecure is not None and not isinstance(insecure, bool):
        raise UsageProblem("account file: 'insecure' must be true or false")
    lists: dict[str, tuple[str, ...] | None] = {}
    for key in ("codecs", "ice_servers"):
        value = data.get(key)
        if value is not None and (
            isinstance(value, str) or not all(isinstance(v, str) for v in value)
        ):
            raise UsageProblem(f"account file: {key!r} must be a list of strings")
        lists[key] = tuple(value) if value is not None else None
    return AccountOptions(
        server=_text_field(data, "server"),
        user=_text_field(data, "user"),
        auth_user=_text_field(data, "auth_user"),
        password=_text_field(data, "password"),
        domain=_text_field(data, "domain"),
        display_name=_text_field(data, "display_name"),
        ca_file=_text_field(data, "ca_file"),
        insecure=insecure,
        dtmf_mode=_text_field(data, "dtmf_mode"),
        codecs=lists["codecs"],
        ice_servers=lists["ice_servers"],
    )


def load_account_file(path: str | Path) -> AccountOptions:
    """Read an account file (TOML if it ends in ``.toml``, else JSON).

    Raises:
        UsageProblem: unreadable, not TOML/JSON, or with missing or malformed keys (the
            message names the key, never the password).
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read the account file {str(file)!r}: {exc.strerror}") from None
    try:
        data: object = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if file.suffix.lower() == ".toml" else "JSON"
        raise UsageProblem(f"the account file {str(file)!r} is not valid {kind}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("sipAccountInfo"), dict):
        data = data["sipAccountInfo"]
    if not isinstance(data, dict):
        raise UsageProblem(f"the account file {str(file)!r} must hold one table/object")
    try:
        if _GUIDE_KEYS & set(data):
            return _from_guide(data)
        return _from_fields(data)
    except ConfigurationError as exc:
        raise UsageProblem(f"account file: {exc}") from None


def build_account(options: AccountOptions) -> Account:
    """The ``Account`` the options describe (``domain`` defaults to the server's host).

    Raises:
        UsageProblem: the server, user or password is missing, or a value is malformed.
    """
    if options.server is None:
        raise UsageProblem("missing --server URL (or an --account-file with one)")
    if options.user is None:
        raise UsageProblem("missing --user (or an --account-file with one)")
    if not options.password:
        raise UsageProblem(
            "missing password: give --password, set EXOTEL_VOICE_PASSWORD, or use --account-file"
        )
    if options.insecure and options.ca_file:
        raise UsageProblem("give --ca-file or --insecure, not both")
    try:
        server = check_server_url(options.server)
    except ValueError as exc:
        raise UsageProblem(f"--server: {exc}") from None
    extra: dict[str, Any] = {}
    if options.dtmf_mode is not None:
        extra["dtmf_mode"] = options.dtmf_mode
    if options.codecs is not None:
        extra["codecs"] = options.codecs
    try:
        return Account(
            user=options.user,
            password=options.password,
            domain=options.domain or urlsplit(server).hostname or "",
            server=server,
            auth_user=options.auth_user,
            display_name=options.display_name,
            tls=TlsOptions(ca_file=options.ca_file, insecure=bool(options.insecure)),
            ice_servers=tuple(IceServer(urls=url) for url in options.ice_servers or ()),
            **extra,
        )
    except ConfigurationError as exc:
        raise UsageProblem(f"account: {exc}") from None
