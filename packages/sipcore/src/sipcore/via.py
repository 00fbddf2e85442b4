"""The Via header: where responses go back (RFC 3261 §8.1.1.7, §18.2.2, §20.42).

::

    via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
    sent-protocol = protocol-name SLASH protocol-version SLASH transport
    sent-by       = host [ COLON port ]
"""

from __future__ import annotations

import re
from typing import ClassVar

from sipcore import _abnf
from sipcore._values import UNREAD, LazyValue, Source, Unread
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.params import (
    Params,
    check_header_text,
    format_params,
    get_param,
    has_param,
    parse_params,
    plain_params_finding,
    replace_param,
    split_plain_params,
)
from sipcore.uri import _check_ipv6

__all__ = ["Via", "parse_via", "MAGIC_COOKIE", "PLAIN_VIA"]

MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this."""

_S = _abnf.SWS
_VIA_HEAD = (
    rf"{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN})[ \t]+"
    rf"({_abnf.IPV6_REFERENCE}|{_abnf.HOSTNAME})(?:{_S}:{_S}({_abnf.PORT}))?"
)
_VIA = re.compile(_VIA_HEAD)
# A whole via-parm in one match, for the fast path of parse_via: the head as _VIA reads it
# (the atomic group commits to it as the step-by-step path does), then plain parameters
# (_abnf.PLAIN_PARAMS). So that a match needs no further check, the host is no IPv6
# reference and the port in range (PORT_16). Groups: protocol-name, protocol-version,
# transport, host, port, parameters, the first branch parameter (plain_params_finding).
# A value it matches is one parse_via reads without error (Headers checks values with it).
PLAIN_VIA = re.compile(
    rf"(?>{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN})[ \t]+"
    rf"({_abnf.HOSTNAME})(?:{_S}:{_S}({_abnf.PORT_16}))?)({plain_params_finding('branch')})\Z"
)


_new = object.__new__


class Via(LazyValue):
    """One Via value (a header line may carry several, comma separated).

    A frozen value: ``Via(transport, host, port=None, params=(), protocol="SIP/2.0")``.

    Raises:
        LocalProtocolError: host or transport holds CR or LF.
    """

    __slots__ = ("_host", "_params", "_port", "_protocol", "_transport")

    _FIELDS: ClassVar[tuple[str, ...]] = ("transport", "host", "port", "params", "protocol")
    __match_args__ = ("transport", "host", "port", "params", "protocol")

    _transport: str | Unread
    _host: str
    _port: int | Unread | None
    _params: Params | Unread
    _protocol: str | Unread

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Params = (),
        protocol: str = "SIP/2.0",
    ) -> None:
        check_header_text(host, "Via host")
        check_header_text(transport, "Via transport")
        self._transport = transport
        self._host = host
        self._port = port
        self._params = params
        self._protocol = protocol

    @classmethod
    def _from_match(cls, plain: Source) -> Via:
        # A match of PLAIN_VIA (a valid via-parm): each field is read from its groups when
        # first used.
        via = _new(cls)
        via._source = plain
        via._host = plain[4]
        via._transport = via._port = via._params = via._protocol = UNREAD
        return via

    @property
    def transport(self) -> str:
        """Upper case: UDP, TCP, TLS, SCTP, WS, WSS, or an extension token."""
        value = self._transport
        if value is UNREAD:
            value = self._transport = self._source[3].upper()
        return value

    @property
    def host(self) -> str:
        """The sent-by host: a host name, IPv4 address or IPv6 reference."""
        return self._host

    @property
    def port(self) -> int | None:
        """The sent-by port, or ``None``."""
        value = self._port
        if value is UNREAD:
            port = self._source[5]
            value = self._port = int(port) if port is not None else None
        return value

    @property
    def params(self) -> Params:
        """The via-params in order (``branch``, ``received``, ``rport``...)."""
        value = self._params
        if value is UNREAD:
            text = self._source[6]
            value = self._params = split_plain_params(text) if text else ()
        return value

    @property
    def protocol(self) -> str:
        """``protocol-name/protocol-version``: ``SIP/2.0``."""
        value = self._protocol
        if value is UNREAD:
            value = self._protocol = f"{self._source[1].upper()}/{self._source[2]}"
        return value

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (the transaction id, §17.2.3)."""
        params = self._params
        if params is UNREAD:
            # Without reading every parameter: "=value", "" for a flag, None if absent.
            found = self._source[7]
            return found[1:] if found is not None else None
        return get_param(params, "branch")

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
        return self._replace(params=replace_param(self.params, name, value))

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


_from_match = Via._from_match  # (bound once: the readers' fast path calls it)


def parse_via(text: str) -> Via:
    """Read one via-parm.

    Raises:
        RemoteProtocolError: malformed (status 400).
    """
    plain = PLAIN_VIA.match(text)
    if plain is not None:
        return _from_match(plain)
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
    return Via(transport.upper(), host, port, params, f"{name.upper()}/{version}")
