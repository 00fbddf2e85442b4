"""URIs: SIP and SIPS (RFC 3261 §19.1), tel (RFC 3966), and any other absolute URI.

``parse_uri`` reads one; ``str(uri)`` writes it back. User parts keep their escapes
exactly as received (RFC 4475 §3.1.1.4: ``sip:%00@h`` and ``sip:%00%00@h`` are two
different users), and ``unescape`` gives the decoded text when it is needed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote_to_bytes

from sipcore import _abnf
from sipcore._values import UNREAD, LazyValue, Source, Unread
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.params import Params, check_header_text, get_param, has_param, split_plain_params

__all__ = [
    "Uri",
    "SipUri",
    "TelUri",
    "AbsoluteUri",
    "parse_uri",
    "unescape",
    "SIP_URI",
    "SIP_URI_GROUPS",
]

_SCHEME = re.compile(rf"({_abnf.SCHEME}):")
_USER = re.compile(_abnf.USER + r"\Z")
_PASSWORD = re.compile(_abnf.PASSWORD + r"\Z")
# hostport = host [ ":" port ]; host = hostname / IPv4address / IPv6reference
_HOSTPORT = re.compile(rf"({_abnf.IPV6_REFERENCE}|{_abnf.HOSTNAME})(?::({_abnf.PORT}))?")
_URI_PARAM = re.compile(rf";({_abnf.PARAM_CHARS})(?:=({_abnf.PARAM_CHARS}))?")
_URI_HEADER = re.compile(rf"({_abnf.HEADER_CHARS})=({_abnf.HEADER_CHARS})")
# telephone-subscriber (RFC 3966): the number, then ;params
_TEL_NUMBER = re.compile(r"\+?[0-9A-Fa-f*#().\-]+\Z|[0-9A-Fa-f*#().\-]+\Z")
_OPAQUE = re.compile(r"[^\s<>\"]+\Z")
# The usual SIP URI in one match, for the fast path of parse_uri:
#   SIP-URI = "sip:" [ userinfo ] hostport uri-parameters     (no "?" headers)
#   userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
#   uri-parameters = *( ";" uri-parameter ); uri-parameter = pname [ "=" pvalue ]
# It reads what _parse_sip_uri reads: neither user nor password holds "@" or ":" and
# nothing after the userinfo holds "@", so the userinfo ends at the first "@" and the
# user at its first ":"; the atomic group and the possessive quantifiers commit to host,
# port and each parameter as the step-by-step matches there do. So that a match needs no
# further check, the scheme is lower case, the port in range (PORT_16) and the host no
# IPv6 reference: anything else takes the general path. Groups: scheme, user, password,
# host, port, parameters.


def _sip_uri(group: str) -> str:
    # The pattern with each part in a group of the given kind ("(" or "(?:").
    return (
        rf"{group}sips?):(?:{group}{_abnf.USER})(?::{group}{_abnf.PASSWORD}))?@)?"
        rf"(?>{group}{_abnf.HOSTNAME})(?::{group}{_abnf.PORT_16}))?)"
        rf"{group}(?:;{_abnf.PARAM_CHARS}+(?:={_abnf.PARAM_CHARS}+)?+)*+)"
    )


SIP_URI_GROUPS = _sip_uri("(")
SIP_URI = _sip_uri("(?:")
"""SIP_URI_GROUPS without its groups, to be part of a larger pattern."""
_SIP_URI = re.compile(SIP_URI_GROUPS + r"\Z")


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes once (never recursively: RFC 4475 §3.1.1.3)."""
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def _check_ipv6(literal: str) -> None:
    inner = literal[1:-1]
    # RFC 5118 §4.10: an implementation must tolerate the RFC 3261 ABNF bug that
    # allows "2001:db8:::192.0.2.1" (three colons); read it as "::".
    inner = inner.replace(":::", "::")
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        raise RemoteProtocolError(f"invalid IPv6 reference {literal!r}") from None


class SipUri(LazyValue):
    """A ``sip:`` or ``sips:`` URI.

    A frozen value: ``SipUri(host, user=None, password=None, port=None, params=(),
    headers=(), scheme="sip")``. ``user`` and ``password`` keep their %-escapes as
    written; parameter and header values likewise. Two URIs compare equal here only if
    written the same way; use ``matches`` for the RFC 3261 §19.1.4 comparison.

    Raises:
        LocalProtocolError: host or user holds CR or LF, another scheme, a port out of
            range.
    """

    __slots__ = ("_headers", "_host", "_params", "_password", "_port", "_scheme", "_user")

    _FIELDS: ClassVar[tuple[str, ...]] = (
        "host", "user", "password", "port", "params", "headers", "scheme"
    )  # fmt: skip
    __match_args__ = ("host", "user", "password", "port", "params", "headers", "scheme")

    _host: str
    _user: str | None
    _password: str | None
    _port: int | Unread | None
    _params: Params | Unread
    _headers: tuple[tuple[str, str], ...]
    _scheme: str

    def __init__(  # noqa: PLR0917 (the positional signature of the dataclass it was)
        self,
        host: str,
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        params: Params = (),
        headers: tuple[tuple[str, str], ...] = (),
        scheme: str = "sip",
    ) -> None:
        for part, what in ((host, "host"), (user or "", "user")):
            check_header_text(part, f"URI {what}")
        if scheme not in ("sip", "sips"):
            raise LocalProtocolError(f"SipUri scheme must be sip or sips, not {scheme!r}")
        if port is not None and not 0 <= port <= 65535:
            raise LocalProtocolError(f"port out of range: {port}")
        self._host = host
        self._user = user
        self._password = password
        self._port = port
        self._params = params
        self._headers = headers
        self._scheme = scheme

    @classmethod
    def _from_match(cls, match: Source) -> SipUri:
        # A match of SIP_URI_GROUPS (a valid URI): port and parameters are read from its
        # groups when first used.
        self = object.__new__(cls)
        self._source = match
        self._scheme, self._user, self._password, self._host = match.group(1, 2, 3, 4)
        self._headers = ()
        self._port = self._params = UNREAD
        return self

    @property
    def host(self) -> str:
        """Host name, IPv4 address, or IPv6 reference with its brackets."""
        return self._host

    @property
    def user(self) -> str | None:
        """The user part, escapes as written, or ``None``."""
        return self._user

    @property
    def password(self) -> str | None:
        """The password, escapes as written, or ``None``."""
        return self._password

    @property
    def port(self) -> int | None:
        """The port, or ``None``."""
        value = self._port
        if value is UNREAD:
            port = self._source[5]
            value = self._port = int(port) if port is not None else None
        return value

    @property
    def params(self) -> Params:
        """The URI parameters in order, values as written."""
        value = self._params
        if value is UNREAD:
            text = self._source[6]
            value = self._params = split_plain_params(text) if text else ()
        return value

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The URI headers (``?name=value&...``) in order, values as written."""
        return self._headers

    @property
    def scheme(self) -> str:
        """``"sip"`` or ``"sips"``, lower case."""
        return self._scheme

    def param(self, name: str) -> str | None:
        """A URI parameter's value (``""`` for a flag like ``;lr``), or ``None``."""
        return get_param(self.params, name)

    def has_param(self, name: str) -> bool:
        """Whether the URI carries parameter ``name``."""
        return has_param(self.params, name)

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower case, if any."""
        t = self.param("transport")
        return t.lower() if t is not None else None

    @property
    def lr(self) -> bool:
        """Whether this is a loose-routing URI (``;lr``, RFC 3261 §16.12)."""
        return self.has_param("lr")

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def with_params(self, params: Params) -> SipUri:
        """A copy with the given parameters."""
        return self._replace(params=params)

    def matches(self, other: object) -> bool:
        """URI equality by the rules of RFC 3261 §19.1.4.

        Scheme, user and password compare case-sensitively after unescaping; host
        case-insensitively; ``user``, ``ttl``, ``method``, ``maddr``, ``transport``
        must match where either URI has them; other parameters must match only where
        both have them; headers must all match.
        """
        if not isinstance(other, SipUri):
            return False
        if self.scheme != other.scheme or self.host.lower() != other.host.lower():
            return False
        if self.port != other.port:
            return False
        if unescape(self.user or "") != unescape(other.user or ""):
            return False
        if unescape(self.password or "") != unescape(other.password or ""):
            return False
        mine = {n.lower(): unescape(v or "").lower() for n, v in self.params}
        theirs = {n.lower(): unescape(v or "").lower() for n, v in other.params}
        for name in ("user", "ttl", "method", "maddr", "transport"):
            if mine.get(name) != theirs.get(name):
                return False
        for name in mine.keys() & theirs.keys():
            if mine[name] != theirs[name]:
                return False
        my_headers = {n.lower(): unescape(v) for n, v in self.headers}
        their_headers = {n.lower(): unescape(v) for n, v in other.headers}
        return my_headers == their_headers

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out += [":", str(self.port)]
        for n, v in self.params:
            out += [";", n] if v is None else [";", n, "=", v]
        if self.headers:
            out += ["?", "&".join(f"{n}={v}" for n, v in self.headers)]
        return "".join(out)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): a number and its parameters."""

    number: str
    params: Params = ()

    @property
    def scheme(self) -> str:
        """Always ``"tel"``."""
        return "tel"

    def param(self, name: str) -> str | None:
        """A parameter's value, or ``None``."""
        return get_param(self.params, name)

    def __str__(self) -> str:
        return (
            "tel:"
            + self.number
            + "".join(f";{n}" if v is None else f";{n}={v}" for n, v in self.params)
        )


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other absolute URI (``http:``, ``urn:``, ``isbn:`` ...), kept opaque."""

    scheme: str
    """The scheme, lower case."""
    rest: str = field(default="")
    """Everything after ``scheme:``, exactly as written."""

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Read a URI.

    Args:
        text: the URI, without surrounding ``<>`` and without whitespace.

    Returns:
        A ``SipUri`` for sip/sips, a ``TelUri`` for tel, else an ``AbsoluteUri``.

    Raises:
        RemoteProtocolError: the text is not a URI of its scheme (status 400).
    """
    fast = _SIP_URI.match(text)
    if fast is not None:
        return SipUri._from_match(fast)
    m = _SCHEME.match(text)
    if m is None:
        raise RemoteProtocolError(f"not a URI (no scheme): {text[:60]!r}")
    scheme = m.group(1).lower()
    rest = text[m.end() :]
    if scheme in ("sip", "sips"):
        return _parse_sip_uri(scheme, rest, text)
    if scheme == "tel":
        return _parse_tel_uri(rest, text)
    if not _OPAQUE.match(rest):
        raise RemoteProtocolError(f"malformed {scheme} URI: {text[:60]!r}")
    return AbsoluteUri(scheme, rest)


def _parse_sip_uri(scheme: str, rest: str, text: str) -> SipUri:
    # userinfo ends at the first "@": neither host, params nor headers may hold one.
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1 :]
        colon = userinfo.find(":")
        if colon >= 0:
            user, password = userinfo[:colon], userinfo[colon + 1 :]
            if not _PASSWORD.match(password):
                raise RemoteProtocolError(f"malformed password in URI {text[:60]!r}")
        else:
            user = userinfo
        if not _USER.match(user):
            raise RemoteProtocolError(f"malformed user part in URI {text[:60]!r}")
    m = _HOSTPORT.match(rest)
    if m is None:
        raise RemoteProtocolError(f"malformed host in URI {text[:60]!r}")
    host = m.group(1)
    if host[0] == "[":
        _check_ipv6(host)
    port: int | None = None
    if m.group(2) is not None:
        port = int(m.group(2))
        if port > 65535:
            raise RemoteProtocolError(f"port out of range in URI {text[:60]!r}")
    pos = m.end()
    params: list[tuple[str, str | None]] = []
    end = len(rest)
    while pos < end and rest[pos] == ";":
        pm = _URI_PARAM.match(rest, pos)
        if pm is None:
            raise RemoteProtocolError(f"malformed URI parameter in {text[:60]!r}")
        params.append((pm.group(1), pm.group(2)))
        pos = pm.end()
    headers: list[tuple[str, str]] = []
    if pos < end and rest[pos] == "?":
        for part in rest[pos + 1 :].split("&"):
            hm = _URI_HEADER.fullmatch(part)
            if hm is None:
                raise RemoteProtocolError(f"malformed URI header in {text[:60]!r}")
            headers.append((hm.group(1), hm.group(2)))
        pos = end
    if pos != end:
        raise RemoteProtocolError(f"unexpected text in URI {text[:60]!r}")
    return SipUri(
        host=host,
        user=user,
        password=password,
        port=port,
        params=tuple(params),
        headers=tuple(headers),
        scheme=scheme,
    )


def _parse_tel_uri(rest: str, text: str) -> TelUri:
    number, _, param_text = rest.partition(";")
    if not _TEL_NUMBER.match(number):
        raise RemoteProtocolError(f"malformed tel URI {text[:60]!r}")
    params: list[tuple[str, str | None]] = []
    if param_text:
        for part in param_text.split(";"):
            name, eq, value = part.partition("=")
            if not name or not re.fullmatch(_abnf.PARAM_CHARS, name):
                raise RemoteProtocolError(f"malformed tel URI parameter in {text[:60]!r}")
            params.append((name, value if eq else None))
    return TelUri(number, tuple(params))
