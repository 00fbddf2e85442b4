"""The Via header: where responses go back (RFC 3261 §8.1.1.7, §18.2.2, §20.42).

::

    via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
    sent-protocol = protocol-name SLASH protocol-version SLASH transport
    sent-by       = host [ COLON port ]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sipcore import _abnf
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.params import (
    Params,
    check_header_text,
    format_params,
    get_param,
    has_param,
    parse_params,
    replace_param,
)
from sipcore.uri import _check_ipv6

__all__ = ["Via", "parse_via", "MAGIC_COOKIE"]

MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this."""

_S = _abnf.SWS
_VIA = re.compile(
    rf"{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN})[ \t]+"
    rf"({_abnf.IPV6_REFERENCE}|{_abnf.HOSTNAME})(?:{_S}:{_S}({_abnf.PORT}))?"
)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value (a header line may carry several, comma separated)."""

    transport: str
    """Upper case: UDP, TCP, TLS, SCTP, WS, WSS, or an extension token."""
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    def __post_init__(self) -> None:
        check_header_text(self.host, "Via host")
        check_header_text(self.transport, "Via transport")

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (the transaction id, §17.2.3)."""
        return get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (§18.2.1), brackets of an IPv6 address removed."""
        value = get_param(self.params, "received")
        if value is not None and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @property
    def rport(self) -> int | bool | None:
        """RFC 3581 ``rport``: ``None`` absent, ``True`` requested (no value), else the port."""
        value = get_param(self.params, "rport")
        if value is None:
            return None
        if value == "":
            return True
        return int(value) if value.isdigit() else None

    @property
    def sent_by(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def has_param(self, name: str) -> bool:
        """Whether parameter ``name`` is present."""
        return has_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with parameter ``name`` set to ``value``."""
        if value is not None:
            check_header_text(value, f"Via parameter {name}")
        if not re.fullmatch(_abnf.TOKEN, name):
            raise LocalProtocolError(f"not a parameter name: {name!r}")
        return replace(self, params=replace_param(self.params, name, value))

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


def parse_via(text: str) -> Via:
    """Read one via-parm.

    Raises:
        RemoteProtocolError: malformed (status 400).
    """
    m = _VIA.match(text)
    if m is None:
        raise RemoteProtocolError(f"malformed Via: {text[:60]!r}")
    name, version, transport, host, port_text = m.groups()
    if host[0] == "[":
        _check_ipv6(host)
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise RemoteProtocolError(f"Via port out of range: {text[:60]!r}")
    params = parse_params(text, m.end(), "Via")
    protocol = f"{name.upper()}/{version}"
    return Via(transport.upper(), host, port, params, protocol)
