"""The guide's ``sipAccountInfo`` dict (section 5.1) -> an ``Account``.

The WebSocket URL is built the way the JavaScript SDK builds it, so existing Exotel
credentials work unchanged: ``<security>://<domain host>:<domain port>/<endpoint>``,
``endpoint`` defaulting to ``wss`` and the port to 8089 (wss) / 8088 (ws) when ``domain``
has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exotel_voice.account import Account
from exotel_voice.errors import ConfigurationError
from sipadapters import TlsOptions

__all__ = ["account_from_sip_account_info", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("userName", "sipdomain", "domain", "secret", "port")
"""Keys the guide's sample always sets (``port`` is checked but, as in the JS SDK, the
WebSocket port comes from ``domain``)."""

_DEFAULT_PORTS = {"wss": 8089, "ws": 8088}


def _text(info: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = info.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigurationError(f"sipAccountInfo['{key}']", "is missing or empty")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ConfigurationError(
            f"sipAccountInfo['{key}']", f"must be a string, not {type(value).__name__}"
        )
    if "\r" in value or "\n" in value:
        raise ConfigurationError(f"sipAccountInfo['{key}']", "contains a line break")
    return value.strip()


def account_from_sip_account_info(info: Mapping[str, Any]) -> Account:
    """Build an Account from the guide's dict.

    Keys: ``userName`` (digest user and the ``phone`` of every callback), ``authUser``
    (our address's user part, default ``userName``), ``sipdomain``, ``domain``
    (``"host:port"`` of the WebSocket server), ``displayname``/``displayName``,
    ``secret``, ``port``, ``security`` (``"wss"`` or ``"ws"``), optional ``endpoint``
    (URL path). Optional extras of this SDK: ``caFile`` (trust this CA), ``insecure``
    (skip TLS verification, loudly), ``iceServers`` (list of ``stun:``/``turn:`` URLs).

    Raises:
        ConfigurationError: naming the missing or malformed key. The password is never
            part of any message.
    """
    if not isinstance(info, Mapping):
        raise ConfigurationError("sipAccountInfo", "must be a dict")
    # required=True never returns None; "or" only narrows the type.
    user_name = _text(info, "userName", required=True) or ""
    sip_domain = _text(info, "sipdomain", required=True) or ""
    domain = _text(info, "domain", required=True) or ""
    secret = info.get("secret")
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError("sipAccountInfo['secret']", "is missing or not a string")
    port = _text(info, "port", required=True) or ""
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError("sipAccountInfo['port']", f"is not a port number: {port!r}")
    security = (_text(info, "security", required=False) or "wss").lower()
    if security not in _DEFAULT_PORTS:
        raise ConfigurationError(
            "sipAccountInfo['security']", f"must be 'wss' or 'ws', not {security!r}"
        )
    host, sep, domain_port = domain.rpartition(":")
    if not sep or not host:
        host, domain_port = domain, str(_DEFAULT_PORTS[security])
    if not domain_port.isdigit() or not 0 < int(domain_port) < 65536:
        raise ConfigurationError("sipAccountInfo['domain']", f"must be 'host:port', got {domain!r}")
    endpoint = (_text(info, "endpoint", required=False) or "wss").lstrip("/")
    auth_user = _text(info, "authUser", required=False)
    display = _text(info, "displayname", required=False) or _text(
        info, "displayName", required=False
    )
    ca_file = _text(info, "caFile", required=False)
    insecure = bool(info.get("insecure", False))
    ice = info.get("iceServers", ())
    if isinstance(ice, str) or not all(isinstance(u, str) for u in ice):
        raise ConfigurationError("sipAccountInfo['iceServers']", "must be a list of URL strings")
    from sipmedia import IceServer  # noqa: PLC0415 - keep this module light to import

    return Account(
        # Our address is sip:<authUser>@<sipdomain> and the digest user is userName
        # (what the JS SDK does; they are usually the same).
        user=auth_user or user_name,
        auth_user=user_name,
        password=secret,
        domain=sip_domain,
        server=f"{security}://{host}:{domain_port}/{endpoint}",
        display_name=display,
        tls=TlsOptions(ca_file=ca_file, insecure=insecure),
        ice_servers=tuple(IceServer(urls=u) for u in ice),
    )
