"""SDP (RFC 8866): ``SessionDescription.parse``, ``str(sdp)`` / ``bytes(sdp)`` and typed views.

The model keeps every line it was given, in the order it was given. The three fixed
lines (``v=``, ``o=``, ``s=``) and each ``m=`` line are typed fields; everything after
them (``i= u= e= p= c= b= t= r= z= k= a=`` and type letters RFC 8866 does not define)
is one ordered list, ``lines``, per level. ``c=``, ``b=`` and ``t=`` are typed
(``Connection``, ``Bandwidth``, ``Timing``), ``a=`` lines are ``Attribute``, the rest are
``Field``. Serialising writes the same lines back with CRLF ends, so a description that
is parsed and written again is byte-identical to its input, line ends aside.

Typed views (``RtpMap``, ``Fmtp``, ``Candidate``, ``Fingerprint`` ...) are read from an
``Attribute`` on demand, never stored beside it, so editing a description cannot make
a view and its line disagree and attribute order survives every edit.

What the parser refuses, always as ``RemoteProtocolError`` (status hint 400) naming the
line: a NUL byte, a bare CR, a line that is not ``<type>=<value>``, a ``v=`` other than
``v=0``, missing or misplaced ``v=``/``o=``/``s=``, a malformed ``o=``/``m=``/``c=``/
``b=``/``t=`` line, an ``a=`` line without a name, and more lines or media sections than
``SdpLimits`` allows. What it keeps without judging:

* unknown attributes and malformed values of known ones (RFC 8866 §5.13: "An SDP parser
  MUST ignore any attribute it doesn't understand"); the typed views raise or skip;
* type letters RFC 8866 does not define. §5 says "an SDP parser MUST completely ignore
  or reject any session description that contains a type letter that it does not
  understand"; the parser keeps such lines (``SessionDescription.unknown_lines()``)
  and leaves the decision to the offer/answer layer, which rejects the offer with 488
  (``sipcore.offer_answer.check_offer``);
* known lines out of §5's order (``t=`` before ``c=`` is common in hand-written SDP);
* empty lines, which are dropped: they are not SDP lines (§5) and some stacks append one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final, Self, TypeAlias, TypeVar

from sipcore.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    # limits and the model
    "SdpLimits",
    "DEFAULT_SDP_LIMITS",
    "SessionDescription",
    "MediaDescription",
    "Origin",
    "Connection",
    "Bandwidth",
    "Timing",
    "Attribute",
    "Field",
    "Line",
    # enums
    "Direction",
    "Setup",
    # typed attribute views
    "RtpMap",
    "Fmtp",
    "Candidate",
    "Fingerprint",
    "Rtcp",
    "Group",
    "Msid",
    "Ssrc",
    "SsrcGroup",
    "ExtMap",
    "RtcpFeedback",
    # codecs
    "Codec",
    "STATIC_PAYLOAD_TYPES",
]


class _Malformed(Exception):
    """Internal: a reader could not make sense of a value (becomes RemoteProtocolError)."""


# Text fields "may contain any octet with the exceptions of 0x00 (Nul), 0x0a (ASCII
# newline), and 0x0d (ASCII carriage return)" (RFC 8866 §5).
_FORBIDDEN_TEXT: Final = re.compile(r"[\x00\r\n]")

# The type letters RFC 8866 §5 defines; any other letter is kept as an unknown Field.
_RFC8866_TYPES: Final = frozenset("vosiuepcbtrzkam")

# Where a line goes when it is added to a level that does not have one yet (RFC 8866 §5
# order: i u e p c b, the time description t r z, then k and a). Unknown letters last.
_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {"i": 1, "u": 2, "e": 3, "p": 4, "c": 5, "b": 6, "t": 7, "r": 8, "z": 9, "k": 10, "a": 11}
)
_UNKNOWN_RANK: Final = 12

# type = ALPHA (one case-significant letter, RFC 8866 §5 and §9 ABNF)
_ASCII_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _digits(text: str, max_len: int) -> bool:
    """ASCII digits only, 1..max_len of them (str.isdigit() also accepts '²', int() not)."""
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


def _is_token(text: str) -> bool:
    """A non-empty run without whitespace: one item of a space-separated SDP field."""
    return bool(text) and text.split() == [text] and "\x00" not in text


def _check_text(value: str, what: str) -> None:
    found = _FORBIDDEN_TEXT.search(value)
    if found:
        raise LocalProtocolError(
            f"{what} must not contain CR, LF or NUL (character {found.start()} of {len(value)})"
        )


def _check_token(value: str, what: str) -> None:
    if not isinstance(value, str) or not _is_token(value):
        raise LocalProtocolError(f"{what} must be a non-empty string without whitespace: {value!r}")


def _check_port(value: int, what: str, *, low: int = 0) -> None:
    if not isinstance(value, int) or not low <= value <= 65535:
        raise LocalProtocolError(f"{what} must be an integer in {low}..65535: {value!r}")


def _check_uint(value: int, what: str) -> None:
    if not isinstance(value, int) or value < 0:
        raise LocalProtocolError(f"{what} must be a non-negative integer: {value!r}")


_setattr = object.__setattr__


# ---------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdpLimits:
    """Caps that keep a hostile peer from making the parser build a huge model."""

    max_lines: int = 4096
    """Lines in one description, empty lines included."""
    max_media: int = 128
    """``m=`` sections in one description."""


DEFAULT_SDP_LIMITS: Final = SdpLimits()


# ---------------------------------------------------------------------------------------
# Line value objects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line (RFC 8866 §5.2).

    ``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``
    """

    username: str
    """The originator's login, or ``-``."""
    sess_id: str
    """The session id, kept as text: it is an identifier (RFC 8866 says digits, often
    64-bit NTP values; some stacks write other tokens)."""
    sess_version: int
    """Incremented by one on each modified offer or answer (RFC 3264 §8)."""
    nettype: str
    """``IN``."""
    addrtype: str
    """``IP4`` or ``IP6``."""
    address: str
    """The originator's address or host name."""

    def __post_init__(self) -> None:
        for name in ("username", "sess_id", "nettype", "addrtype", "address"):
            _check_token(getattr(self, name), f"o= {name}")
        _check_uint(self.sess_version, "o= sess-version")

    def next_version(self) -> Origin:
        """This origin with ``sess_version`` one greater (RFC 3264 §8).

        Returns:
            A new ``Origin``; this one is unchanged.
        """
        return Origin(
            self.username,
            self.sess_id,
            self.sess_version + 1,
            self.nettype,
            self.addrtype,
            self.address,
        )

    def to_line(self) -> str:
        """The line as written, without its line end."""
        return (
            f"o={self.username} {self.sess_id} {self.sess_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A ``c=`` line (RFC 8866 §5.7): ``c=<nettype> <addrtype> <connection-address>``."""

    type: ClassVar[str] = "c"

    nettype: str
    """``IN``."""
    addrtype: str
    """``IP4`` or ``IP6`` (other tokens are kept as received)."""
    address: str
    """The address, with any multicast ``/ttl/count`` suffix kept as written."""

    def __post_init__(self) -> None:
        _check_token(self.nettype, "c= nettype")
        _check_token(self.addrtype, "c= addrtype")
        _check_token(self.address, "c= address")

    def to_line(self) -> str:
        """The line as written, without its line end."""
        return f"c={self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """A ``b=`` line (RFC 8866 §5.8): ``b=<bwtype>:<bandwidth>``."""

    type: ClassVar[str] = "b"

    bwtype: str
    """``AS``, ``CT``, ``TIAS``... (unknown types are kept)."""
    bandwidth: int
    """In kilobits per second for ``AS``/``CT``, bits per second for ``TIAS``."""

    def __post_init__(self) -> None:
        _check_token(self.bwtype, "b= bwtype")
        if ":" in self.bwtype:
            raise LocalProtocolError(f"b= bwtype must not contain ':': {self.bwtype!r}")
        _check_uint(self.bandwidth, "b= bandwidth")

    def to_line(self) -> str:
        """The line as written, without its line end."""
        return f"b={self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Timing:
    """A ``t=`` line (RFC 8866 §5.9): ``t=<start-time> <stop-time>``; ``t=0 0`` is unbounded."""

    type: ClassVar[str] = "t"

    start: int = 0
    """NTP seconds, or 0."""
    stop: int = 0
    """NTP seconds, or 0."""

    def __post_init__(self) -> None:
        _check_uint(self.start, "t= start-time")
        _check_uint(self.stop, "t= stop-time")

    def to_line(self) -> str:
        """The line as written, without its line end."""
        return f"t={self.start} {self.stop}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """An ``a=`` line (RFC 8866 §5.13): ``a=<name>`` or ``a=<name>:<value>``.

    ``value`` is ``None`` for a property attribute (``a=rtcp-mux``) and ``""`` for
    ``a=name:`` with nothing after the colon; the two are written back differently.
    Typed views read the value on demand (``RtpMap.from_attribute(attribute)``).
    """

    type: ClassVar[str] = "a"

    name: str
    """The attribute name, case kept (``rtpmap``, ``ice-ufrag``...)."""
    value: str | None = None
    """Everything after the first colon, exactly as written (leading spaces kept)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or ":" in self.name:
            raise LocalProtocolError(f"attribute name must be non-empty without ':': {self.name!r}")
        _check_text(self.name, "attribute name")
        if self.value is not None:
            _check_text(self.value, f"a={self.name} value")

    def to_line(self) -> str:
        """The line as written, without its line end."""
        if self.value is None:
            return "a=" + self.name
        return f"a={self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Field:
    """Any other line, kept as text: ``i= u= e= p= r= z= k=`` and unknown type letters.

    RFC 8866 §5 defines the letters ``v o s i u e p c b t r z k a m``; a ``Field`` with
    another letter is *unknown* (``is_unknown``).
    """

    type: str
    """The type letter (one ASCII letter, not ``v o s m a c b t``, which are typed)."""
    value: str
    """Everything after ``=``, exactly as written."""

    def __post_init__(self) -> None:
        if (
            not isinstance(self.type, str)
            or len(self.type) != 1
            or self.type not in _ASCII_LETTERS
            or self.type in "vosmacbt"
        ):
            raise LocalProtocolError(
                f"Field type must be one ASCII letter other than v o s m a c b t: {self.type!r}"
            )
        _check_text(self.value, f"{self.type}= value")

    @property
    def is_unknown(self) -> bool:
        """Whether RFC 8866 §5 does not define this type letter."""
        return self.type not in _RFC8866_TYPES

    def to_line(self) -> str:
        """The line as written, without its line end."""
        return f"{self.type}={self.value}"


Line: TypeAlias = Attribute | Connection | Bandwidth | Timing | Field
"""One line after the fixed ones of a level (after ``s=`` or after ``m=``)."""


def _rank(line: Line) -> int:
    return _RANK.get(line.type, _UNKNOWN_RANK)


# The newline before each line that is not empty and not an attribute with a name
# (a=<name>...): the lines SessionDescription.parse must read. Group 1 is the type
# letter (None if the line is not <type>=<value>), group 2 the value (or the whole line
# when there is no type), without the CR.
_OTHER_LINES: Final = re.compile(r"\n(?!a=[^:\r\n])(?=[^\r\n])(?:([A-Za-z])=)?([^\r\n]*)")
_STRAY_CR: Final = re.compile(r"\r(?!\n)")
_BINARY: Final = (bytes, bytearray, memoryview)  # (a tuple: "bytes | ..." is built per use)

# Trusted constructors for the parser: the reader has checked what __post_init__ checks.


def _new_field(kind: str, value: str) -> Field:
    line = object.__new__(Field)
    _setattr(line, "type", kind)
    _setattr(line, "value", value)
    return line


# ---------------------------------------------------------------------------------------
# Readers: one small function per line type, selected from a table (h11 style)
# ---------------------------------------------------------------------------------------


def _origin_parts(value: str) -> list[str]:
    # origin-field = %s"o" "=" username SP sess-id SP sess-version SP nettype SP addrtype
    #                SP unicast-address CRLF
    parts = value.split()
    if len(parts) != 6:
        raise _Malformed(
            "o= needs 6 fields: username sess-id sess-version nettype addrtype address"
        )
    # sess-version = 1*DIGIT (bounded: int() refuses very long digit strings)
    if not _digits(parts[2], 64):
        raise _Malformed("o= sess-version is not a number")
    return parts


def _new_origin(parts: list[str]) -> Origin:
    # From what _origin_parts checked.
    origin = object.__new__(Origin)
    _setattr(origin, "username", parts[0])
    _setattr(origin, "sess_id", parts[1])
    _setattr(origin, "sess_version", int(parts[2]))
    _setattr(origin, "nettype", parts[3])
    _setattr(origin, "addrtype", parts[4])
    _setattr(origin, "address", parts[5])
    return origin


def _connection_parts(value: str) -> list[str]:
    # connection-field = %s"c" "=" nettype SP addrtype SP connection-address CRLF
    parts = value.split()
    if len(parts) != 3:
        raise _Malformed("c= needs 3 fields: nettype addrtype address")
    return parts


def _read_connection(value: str) -> Connection:
    parts = _connection_parts(value)
    connection = object.__new__(Connection)
    _setattr(connection, "nettype", parts[0])
    _setattr(connection, "addrtype", parts[1])
    _setattr(connection, "address", parts[2])
    return connection


def _bandwidth_parts(value: str) -> tuple[str, str]:
    # bandwidth-field = %s"b" "=" bwtype ":" bandwidth CRLF
    # bwtype = token; bandwidth = 1*DIGIT
    bwtype, colon, amount = value.partition(":")
    bwtype, amount = bwtype.strip(), amount.strip()
    if not colon or not _is_token(bwtype) or not _digits(amount, 20):
        raise _Malformed("b= must be <bwtype>:<number>")
    return bwtype, amount


def _read_bandwidth(value: str) -> Bandwidth:
    bwtype, amount = _bandwidth_parts(value)
    bandwidth = object.__new__(Bandwidth)
    _setattr(bandwidth, "bwtype", bwtype)
    _setattr(bandwidth, "bandwidth", int(amount))
    return bandwidth


def _timing_parts(value: str) -> list[str]:
    # time-field = %s"t" "=" start-time SP stop-time; start-time = time / "0"
    parts = value.split()
    if len(parts) != 2 or not _digits(parts[0], 20) or not _digits(parts[1], 20):
        raise _Malformed("t= must be <start-time> <stop-time>")
    return parts


def _read_timing(value: str) -> Timing:
    parts = _timing_parts(value)
    timing = object.__new__(Timing)
    _setattr(timing, "start", int(parts[0]))
    _setattr(timing, "stop", int(parts[1]))
    return timing


_READERS: Final[Mapping[str, Callable[[str], Line]]] = MappingProxyType(
    {"c": _read_connection, "b": _read_bandwidth, "t": _read_timing}
)
_CHECKS: Final[Mapping[str, Callable[[str], object]]] = MappingProxyType(
    {"c": _connection_parts, "b": _bandwidth_parts, "t": _timing_parts}
)
"""What the readers check, without making the line (SessionDescription.parse)."""


def _read_media(value: str) -> MediaDescription:
    # media-field = %s"m" "=" media SP port ["/" integer] SP proto 1*(SP fmt) CRLF
    parts = value.split()
    if len(parts) < 4:
        raise _Malformed("m= needs <media> <port>[/<count>] <proto> <fmt> ...")
    port_text, slash, count_text = parts[1].partition("/")
    if not _digits(port_text, 5) or (port := int(port_text)) > 65535:
        raise _Malformed("m= port is not a number in 0..65535")
    port_count: int | None = None
    if slash:
        if not _digits(count_text, 5) or not 1 <= int(count_text) <= 65535:
            raise _Malformed("m= port count is not a number in 1..65535")
        port_count = int(count_text)
    media = object.__new__(MediaDescription)
    media.media = parts[0]
    media.port = port
    media.proto = parts[2]
    media.formats = parts[3:]
    media.port_count = port_count
    media._lines = None
    media._text = ""
    return media


def _misplaced(kind: str | None) -> _Malformed:
    """Why a line found by ``_OTHER_LINES`` with this type may not be where it is."""
    if kind is None:
        return _Malformed("not a <type>=<value> line")
    if kind == "a":
        # attribute = (attribute-name ":" attribute-value) / attribute-name; _OTHER_LINES
        # finds an a= line only when it has no name.
        return _Malformed("a= line without an attribute name")
    return _Malformed(f"{kind}= may appear only once, at the top")


def _read_lines(text: str) -> list[Line]:
    """The line objects of a level's text, which ``SessionDescription.parse`` checked
    (every CR in it ends a line, so dropping them leaves LF line ends)."""
    lines: list[Line] = []
    append = lines.append
    for line in text.replace("\r", "").split("\n"):
        if line.startswith("a="):
            name, colon, rest = line[2:].partition(":")
            attribute = object.__new__(Attribute)
            _setattr(attribute, "name", name)
            _setattr(attribute, "value", rest if colon else None)
            append(attribute)
        elif line:
            kind = line[0]
            reader = _READERS.get(kind)
            append(reader(line[2:]) if reader is not None else _new_field(kind, line[2:]))
    return lines


# ---------------------------------------------------------------------------------------
# Enums
# ---------------------------------------------------------------------------------------


class Direction(enum.Enum):
    """The media direction attributes (RFC 8866 §6.7; RFC 3264 §5.1, §6.1).

    A stream with no direction attribute at media or session level is ``SENDRECV``.
    """

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """Whether the side that wrote this attribute sends media."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """Whether the side that wrote this attribute receives media."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, *, sends: bool, receives: bool) -> Direction:
        """The direction that sends and receives as given.

        Args:
            sends: whether media is sent.
            receives: whether media is received.

        Returns:
            ``SENDRECV``, ``SENDONLY``, ``RECVONLY`` or ``INACTIVE``.
        """
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def to_attribute(self) -> Attribute:
        """This direction as a property attribute (``a=sendonly``)."""
        return Attribute(self.value)


_DIRECTION_NAMES: Final = frozenset(d.value for d in Direction)


class Setup(enum.Enum):
    """``a=setup`` (RFC 4145 §4, used by DTLS-SRTP per RFC 5763 §5)."""

    ACTPASS = "actpass"
    ACTIVE = "active"
    PASSIVE = "passive"
    HOLDCONN = "holdconn"

    def to_attribute(self) -> Attribute:
        """This role as an attribute (``a=setup:actpass``)."""
        return Attribute("setup", self.value)


# ---------------------------------------------------------------------------------------
# Typed attribute views
# ---------------------------------------------------------------------------------------


class _AttributeView:
    """Shared behaviour of the typed views: parse a value, build an ``Attribute``."""

    __slots__ = ()

    NAME: ClassVar[str]

    @classmethod
    def _read(cls, value: str) -> Self:
        raise NotImplementedError

    def _value(self) -> str:
        raise NotImplementedError

    @classmethod
    def parse(cls, value: str) -> Self:
        """Read the view from an attribute value (the text after ``a=<name>:``).

        Args:
            value: the attribute value.

        Returns:
            The typed view.

        Raises:
            RemoteProtocolError: the value does not follow the attribute's grammar
                (status 400).
        """
        try:
            return cls._read(value)
        except _Malformed as exc:
            raise RemoteProtocolError(f"malformed a={cls.NAME}:{value[:80]!r}: {exc}") from None

    @classmethod
    def from_attribute(cls, attribute: Attribute) -> Self:
        """Read the view from an ``Attribute`` of the right name.

        Args:
            attribute: an attribute called ``NAME``.

        Returns:
            The typed view.

        Raises:
            LocalProtocolError: the attribute has another name.
            RemoteProtocolError: its value is malformed (status 400).
        """
        if attribute.name != cls.NAME:
            raise LocalProtocolError(f"a={attribute.name} is not a={cls.NAME}")
        return cls.parse(attribute.value if attribute.value is not None else "")

    def to_attribute(self) -> Attribute:
        """This view written as an attribute.

        Raises:
            LocalProtocolError: a field holds CR, LF or NUL.
        """
        return Attribute(self.NAME, self._value())


# rtpmap-value = payload-type SP encoding-name "/" clock-rate [ "/" encoding-params ]
# (RFC 8866 §6.6); payload-type = 0..127 (RFC 3551 §3), clock rate and params digits.
_RTPMAP: Final = re.compile(r"\s*([0-9]{1,3})\s+([^\s/]+)/([0-9]{1,10})(?:/([0-9]{1,5}))?\s*")


def _rtpmap_parts(value: str) -> tuple[int, str, int, int | None] | None:
    """(payload type, encoding, clock rate, channels) of an rtpmap value, or None."""
    m = _RTPMAP.fullmatch(value)
    if m is None or int(m.group(1)) > 127:
        return None
    channels = m.group(4)
    return int(m.group(1)), m.group(2), int(m.group(3)), int(channels) if channels else None


def _fmtp_parts(value: str) -> tuple[int, str] | None:
    """(payload type, parameters) of an fmtp value, or None."""
    # fmtp-value = fmt SP format-specific-params (RFC 8866 §6.15)
    pt, _, params = value.strip().partition(" ")
    if not _digits(pt, 3) or int(pt) > 127:
        return None
    return int(pt), params.strip()


@dataclass(frozen=True, slots=True)
class RtpMap(_AttributeView):
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`` (RFC 8866 §6.6)."""

    NAME: ClassVar[str] = "rtpmap"

    payload_type: int
    encoding: str
    """Encoding name as written (``opus``, ``PCMU``, ``telephone-event``)."""
    clock_rate: int
    channels: int | None = None
    """The encoding parameters of an audio stream: its channel count, if written."""

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = _rtpmap_parts(value)
        if parts is None:
            raise _Malformed("expected <payload type> <encoding>/<clock rate>[/<channels>]")
        return cls(*parts)

    def _value(self) -> str:
        rate = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return rate if self.channels is None else f"{rate}/{self.channels}"


def _split_fmtp_params(params: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in params.split(";"):
        key, _, val = item.partition("=")
        key = key.strip()
        if key:
            result.setdefault(key, val.strip())
    return result


@dataclass(frozen=True, slots=True)
class Fmtp(_AttributeView):
    """``a=fmtp:<format> <format specific parameters>`` (RFC 8866 §6.15).

    ``params`` is the text as written; ``parameters`` reads the common ``k=v;k=v``
    convention into a dict (an item without ``=`` maps to ``""``, e.g. ``0-15``).
    """

    NAME: ClassVar[str] = "fmtp"

    payload_type: int
    params: str

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = _fmtp_parts(value)
        if parts is None:
            raise _Malformed("expected <payload type> <parameters>")
        return cls(*parts)

    @classmethod
    def from_parameters(cls, payload_type: int, parameters: Mapping[str, str]) -> Fmtp:
        """Build an fmtp from a mapping, written ``k=v;k=v`` (empty values as bare ``k``).

        Args:
            payload_type: the format the parameters apply to.
            parameters: names and values, in the order to write them.

        Returns:
            The view.
        """
        items = (key if val == "" else f"{key}={val}" for key, val in parameters.items())
        return cls(payload_type, ";".join(items))

    @property
    def parameters(self) -> dict[str, str]:
        """The parameters split on ``;`` and ``=``, names and values stripped (first wins)."""
        return _split_fmtp_params(self.params)

    def _value(self) -> str:
        return f"{self.payload_type} {self.params}"


@dataclass(frozen=True, slots=True)
class Candidate(_AttributeView):
    """An ICE candidate (RFC 8839 §5.1).

    ``candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP
    priority SP connection-address SP port SP cand-type [SP rel-addr] [SP rel-port]
    *(SP cand-extension)``
    """

    NAME: ClassVar[str] = "candidate"

    foundation: str
    component: int
    """1 for RTP, 2 for RTCP."""
    transport: str
    """``udp``/``UDP``/``tcp`` as written (compare case-insensitively)."""
    priority: int
    address: str
    port: int
    type: str
    """``host``, ``srflx``, ``prflx`` or ``relay``."""
    related_address: str | None = None
    """``raddr``."""
    related_port: int | None = None
    """``rport``."""
    extensions: tuple[tuple[str, str], ...] = ()
    """Other name/value pairs in order (``tcptype``, ``generation``, ``network-id``...)."""

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if len(parts) < 8 or parts[6] != "typ":
            raise _Malformed(
                "expected <foundation> <component> <transport> <priority> "
                "<address> <port> typ <type>"
            )
        foundation, component, transport, priority, address, port = parts[:6]
        if not _digits(component, 3) or not _digits(priority, 10):
            raise _Malformed("component and priority must be numbers")
        if not _digits(port, 5) or int(port) > 65535:
            raise _Malformed("port is not a number in 0..65535")
        rest = parts[8:]
        if len(rest) % 2:
            raise _Malformed("extension without a value")
        related_address: str | None = None
        related_port: int | None = None
        extensions: list[tuple[str, str]] = []
        for i in range(0, len(rest), 2):
            key, val = rest[i], rest[i + 1]
            if key == "raddr" and related_address is None:
                related_address = val
            elif key == "rport" and related_port is None:
                if not _digits(val, 5) or int(val) > 65535:
                    raise _Malformed("rport is not a number in 0..65535")
                related_port = int(val)
            else:
                extensions.append((key, val))
        return cls(
            foundation,
            int(component),
            transport,
            int(priority),
            address,
            int(port),
            parts[7],
            related_address,
            related_port,
            tuple(extensions),
        )

    def extension(self, name: str) -> str | None:
        """The value of the first extension called ``name``.

        Args:
            name: the extension name (``generation``, ``network-id``...).

        Returns:
            Its value, or ``None`` if the candidate has no such extension.
        """
        for key, val in self.extensions:
            if key == name:
                return val
        return None

    @property
    def tcptype(self) -> str | None:
        """``active``, ``passive`` or ``so`` for TCP candidates (RFC 6544 §4.5)."""
        return self.extension("tcptype")

    def _value(self) -> str:
        parts = [
            self.foundation,
            str(self.component),
            self.transport,
            str(self.priority),
            self.address,
            str(self.port),
            "typ",
            self.type,
        ]
        if self.related_address is not None:
            parts += ["raddr", self.related_address]
        if self.related_port is not None:
            parts += ["rport", str(self.related_port)]
        for key, val in self.extensions:
            parts += [key, val]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Fingerprint(_AttributeView):
    """``a=fingerprint:<hash-func> <fingerprint>`` (RFC 8122 §5)."""

    NAME: ClassVar[str] = "fingerprint"

    hash_function: str
    """As written (``sha-256``; some stacks write ``SHA-256``: compare case-insensitively)."""
    value: str
    """Colon-separated upper-case hex pairs, as written."""

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if len(parts) != 2:
            raise _Malformed("expected <hash function> <fingerprint>")
        return cls(parts[0], parts[1])

    def _value(self) -> str:
        return f"{self.hash_function} {self.value}"


@dataclass(frozen=True, slots=True)
class Rtcp(_AttributeView):
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605 §2.1).

    The address type is a token in the grammar, so ``IN IP7 X`` is read as written.
    """

    NAME: ClassVar[str] = "rtcp"

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if len(parts) not in (1, 4) or not _digits(parts[0], 5) or int(parts[0]) > 65535:
            raise _Malformed("expected <port> [<nettype> <addrtype> <address>]")
        if len(parts) == 1:
            return cls(int(parts[0]))
        return cls(int(parts[0]), parts[1], parts[2], parts[3])

    def _value(self) -> str:
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Group(_AttributeView):
    """``a=group:<semantics> *(SP <identification-tag>)`` (RFC 5888 §5), e.g. BUNDLE."""

    NAME: ClassVar[str] = "group"

    semantics: str
    """``BUNDLE``, ``LS``, ``FID``..."""
    mids: tuple[str, ...] = ()

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if not parts:
            raise _Malformed("expected <semantics> <mid>...")
        return cls(parts[0], tuple(parts[1:]))

    def _value(self) -> str:
        return " ".join((self.semantics, *self.mids))


@dataclass(frozen=True, slots=True)
class Msid(_AttributeView):
    """``a=msid:<stream id> [<track id>]`` (RFC 8830 §2)."""

    NAME: ClassVar[str] = "msid"

    stream_id: str
    track_id: str | None = None

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if len(parts) not in (1, 2):
            raise _Malformed("expected <stream id> [<track id>]")
        return cls(parts[0], parts[1] if len(parts) == 2 else None)

    def _value(self) -> str:
        return self.stream_id if self.track_id is None else f"{self.stream_id} {self.track_id}"


@dataclass(frozen=True, slots=True)
class Ssrc(_AttributeView):
    """``a=ssrc:<ssrc-id> <attribute>[:<value>]`` (RFC 5576 §4.1)."""

    NAME: ClassVar[str] = "ssrc"

    ssrc: int
    attribute: str
    """``cname``, ``msid``, ``mslabel``, ``label``..."""
    value: str | None = None

    @classmethod
    def _read(cls, value: str) -> Self:
        ssrc, _, rest = value.strip().partition(" ")
        if not _digits(ssrc, 10) or int(ssrc) > 0xFFFFFFFF:
            raise _Malformed("ssrc-id is not a 32-bit number")
        name, colon, val = rest.strip().partition(":")
        if not name:
            raise _Malformed("expected <ssrc-id> <attribute>[:<value>]")
        return cls(int(ssrc), name, val if colon else None)

    def _value(self) -> str:
        if self.value is None:
            return f"{self.ssrc} {self.attribute}"
        return f"{self.ssrc} {self.attribute}:{self.value}"


@dataclass(frozen=True, slots=True)
class SsrcGroup(_AttributeView):
    """``a=ssrc-group:<semantics> *(SP <ssrc-id>)`` (RFC 5576 §4.2)."""

    NAME: ClassVar[str] = "ssrc-group"

    semantics: str
    ssrcs: tuple[int, ...] = ()

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split()
        if not parts or not all(_digits(p, 10) and int(p) <= 0xFFFFFFFF for p in parts[1:]):
            raise _Malformed("expected <semantics> <ssrc-id>...")
        return cls(parts[0], tuple(int(p) for p in parts[1:]))

    def _value(self) -> str:
        return " ".join((self.semantics, *map(str, self.ssrcs)))


@dataclass(frozen=True, slots=True)
class ExtMap(_AttributeView):
    """``a=extmap:<id>[/<direction>] <uri> [<attributes>]`` (RFC 8285)."""

    NAME: ClassVar[str] = "extmap"

    id: int
    uri: str
    direction: Direction | None = None
    attributes: str | None = None

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split(maxsplit=2)
        if len(parts) < 2:
            raise _Malformed("expected <id>[/<direction>] <uri>")
        ident, slash, direction = parts[0].partition("/")
        if not _digits(ident, 5):
            raise _Malformed("extension id is not a number")
        if slash and direction not in _DIRECTION_NAMES:
            raise _Malformed("unknown direction")
        return cls(
            int(ident),
            parts[1],
            Direction(direction) if slash else None,
            parts[2] if len(parts) == 3 else None,
        )

    def _value(self) -> str:
        entry = str(self.id) if self.direction is None else f"{self.id}/{self.direction.value}"
        text = f"{entry} {self.uri}"
        return text if self.attributes is None else f"{text} {self.attributes}"


@dataclass(frozen=True, slots=True)
class RtcpFeedback(_AttributeView):
    """``a=rtcp-fb:<payload type or *> <feedback> [<parameter>]`` (RFC 4585 §4.2)."""

    NAME: ClassVar[str] = "rtcp-fb"

    payload_type: str
    """A payload type number as written, or ``*`` for all formats."""
    feedback: str
    """``nack``, ``ccm``, ``goog-remb``, ``transport-cc``, ``trr-int``..."""
    parameter: str | None = None
    """``pli``, ``fir``, ``100``... (the rest of the line)."""

    @classmethod
    def _read(cls, value: str) -> Self:
        parts = value.split(maxsplit=2)
        if len(parts) < 2 or not (parts[0] == "*" or _digits(parts[0], 3)):
            raise _Malformed("expected <payload type or *> <feedback> [<parameter>]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def _value(self) -> str:
        text = f"{self.payload_type} {self.feedback}"
        return text if self.parameter is None else f"{text} {self.parameter}"


_View = TypeVar("_View", bound=_AttributeView)


# ---------------------------------------------------------------------------------------
# Codecs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """One RTP payload format of a media section, as the offer/answer layer sees it."""

    payload_type: int
    name: str
    """Encoding name as written (compare case-insensitively: RFC 8866 §6.6)."""
    clock_rate: int
    channels: int | None = None
    """Channel count if the rtpmap states one (audio; ``None`` means 1)."""
    fmtp: str | None = None
    """The ``a=fmtp`` parameters for this payload type, as written."""

    @property
    def is_telephone_event(self) -> bool:
        """Whether this is RFC 4733 DTMF (``telephone-event``)."""
        return self.name.lower() == "telephone-event"

    @property
    def parameters(self) -> dict[str, str]:
        """The fmtp parameters as a dict (empty when there are none)."""
        return _split_fmtp_params(self.fmtp) if self.fmtp else {}

    @property
    def rtpmap(self) -> RtpMap:
        """The ``a=rtpmap`` view describing this codec."""
        return RtpMap(self.payload_type, self.name, self.clock_rate, self.channels)

    def to_attributes(self) -> list[Attribute]:
        """The ``a=rtpmap`` line and, if there are parameters, the ``a=fmtp`` line.

        Raises:
            LocalProtocolError: a field holds CR, LF or NUL.
        """
        attributes = [self.rtpmap.to_attribute()]
        if self.fmtp is not None:
            attributes.append(Fmtp(self.payload_type, self.fmtp).to_attribute())
        return attributes


# RFC 3551 §6 Tables 4 and 5: payload types with a fixed meaning, usable without rtpmap.
STATIC_PAYLOAD_TYPES: Final[Mapping[int, tuple[str, int, int | None]]] = MappingProxyType(
    {
        0: ("PCMU", 8000, None),
        3: ("GSM", 8000, None),
        4: ("G723", 8000, None),
        5: ("DVI4", 8000, None),
        6: ("DVI4", 16000, None),
        7: ("LPC", 8000, None),
        8: ("PCMA", 8000, None),
        9: ("G722", 8000, None),
        10: ("L16", 44100, 2),
        11: ("L16", 44100, None),
        12: ("QCELP", 8000, None),
        13: ("CN", 8000, None),
        14: ("MPA", 90000, None),
        15: ("G728", 8000, None),
        16: ("DVI4", 11025, None),
        17: ("DVI4", 22050, None),
        18: ("G729", 8000, None),
        25: ("CelB", 90000, None),
        26: ("JPEG", 90000, None),
        28: ("nv", 90000, None),
        31: ("H261", 90000, None),
        32: ("MPV", 90000, None),
        33: ("MP2T", 90000, None),
        34: ("H263", 90000, None),
    }
)
"""Payload type -> (encoding name, clock rate, channels) for the RFC 3551 static types."""


# ---------------------------------------------------------------------------------------
# What the session level and a media section share
# ---------------------------------------------------------------------------------------


class _Section:
    """Attribute and line helpers over ``self.lines`` (session level and media level).

    A parsed level keeps its lines as the text ``parse`` checked (``_text``) until
    ``lines`` is first read; then they become line objects (``_lines``), which are what
    every edit changes.
    """

    __slots__ = ("_lines", "_text")

    _FIELDS: ClassVar[tuple[str, ...]]
    _lines: list[Line] | None
    _text: str

    @property
    def lines(self) -> list[Line]:
        """Every line of this level after its fixed ones, in order."""
        lines = self._lines
        if lines is None:
            lines = self._lines = _read_lines(self._text)
            self._text = ""
        return lines

    @lines.setter
    def lines(self, value: list[Line]) -> None:
        self._lines = value
        self._text = ""

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        fields = self._FIELDS
        return [getattr(self, name) for name in fields] == [getattr(other, name) for name in fields]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__qualname__}({fields})"

    # -- attributes ----------------------------------------------------------------------

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        """Every ``a=`` line of this level, in order (a snapshot: edit with the methods
        below or through ``lines``)."""
        return tuple(line for line in self.lines if type(line) is Attribute)

    def find(self, name: str) -> Attribute | None:
        """The first attribute called ``name``.

        Args:
            name: the attribute name, matched case-sensitively.

        Returns:
            The attribute, or ``None`` if there is none at this level.
        """
        for line in self.lines:
            if type(line) is Attribute and line.name == name:
                return line
        return None

    def find_all(self, name: str) -> list[Attribute]:
        """Every attribute called ``name``.

        Args:
            name: the attribute name, matched case-sensitively.

        Returns:
            The attributes in order (empty if none).
        """
        return [line for line in self.lines if type(line) is Attribute and line.name == name]

    def has_attribute(self, name: str) -> bool:
        """Whether an attribute called ``name`` is present at this level.

        Args:
            name: the attribute name, matched case-sensitively.

        Returns:
            True if there is at least one.
        """
        return self.find(name) is not None

    def add_attribute(self, attribute: Attribute) -> None:
        """Append ``attribute`` after every other line of this level.

        Args:
            attribute: the attribute to add (duplicates are allowed).
        """
        self.lines.append(attribute)

    def set_attribute(self, attribute: Attribute) -> None:
        """Make ``attribute`` the only one of its name: replace the first in place, drop
        the others, or append if there was none.

        Args:
            attribute: the attribute to set.
        """
        self._replace_attributes(frozenset((attribute.name,)), attribute)

    def remove_attributes(self, name: str) -> int:
        """Remove every attribute called ``name``.

        Args:
            name: the attribute name.

        Returns:
            How many were removed.
        """
        before = len(self.lines)
        self.lines[:] = [
            line for line in self.lines if not (type(line) is Attribute and line.name == name)
        ]
        return before - len(self.lines)

    def typed(self, kind: type[_View]) -> list[_View]:
        """Every attribute of ``kind.NAME`` read as ``kind``, in order.

        Values that do not follow the attribute's grammar are skipped (RFC 8866 §5.13:
        a parser MUST ignore an attribute it does not understand); read them with
        ``kind.from_attribute`` to see the error.

        Args:
            kind: a view class (``RtpMap``, ``Candidate``...).

        Returns:
            The views.
        """
        views: list[_View] = []
        name = kind.NAME
        for line in self.lines:
            if type(line) is Attribute and line.name == name:
                try:
                    views.append(kind.parse(line.value if line.value is not None else ""))
                except RemoteProtocolError:
                    continue
        return views

    def _first(self, kind: type[_View]) -> _View | None:
        views = self.typed(kind)
        return views[0] if views else None

    def _replace_attributes(self, names: frozenset[str], new: Attribute | None) -> None:
        lines = self.lines
        kept: list[Line] = []
        placed = False
        for line in lines:
            if type(line) is Attribute and line.name in names:
                if not placed and new is not None:
                    kept.append(new)
                placed = True
                continue
            kept.append(line)
        if not placed and new is not None:
            kept.append(new)
        lines[:] = kept

    def _replace_lines(self, kind: str, new: Line | None) -> None:
        """Replace the lines of type ``kind`` by ``new`` (in place of the first), or
        insert ``new`` where RFC 8866 §5 puts that type."""
        lines = self.lines
        kept: list[Line] = []
        placed = False
        for line in lines:
            if line.type == kind:
                if not placed and new is not None:
                    kept.append(new)
                placed = True
                continue
            kept.append(line)
        if not placed and new is not None:
            rank = _rank(new)
            at = next((i for i, line in enumerate(kept) if _rank(line) > rank), len(kept))
            kept.insert(at, new)
        lines[:] = kept

    def _field_values(self, kind: str) -> list[str]:
        return [line.value for line in self.lines if type(line) is Field and line.type == kind]

    # -- i=, c=, b= ----------------------------------------------------------------------

    @property
    def information(self) -> str | None:
        """The ``i=`` text (RFC 8866 §5.4), or ``None``."""
        values = self._field_values("i")
        return values[0] if values else None

    @property
    def connection(self) -> Connection | None:
        """The first ``c=`` line of this level (RFC 8866 §5.7), or ``None``.

        Setting it replaces the ``c=`` lines in place (or inserts one where §5 puts it);
        setting ``None`` removes them.
        """
        for line in self.lines:
            if type(line) is Connection:
                return line
        return None

    @connection.setter
    def connection(self, value: Connection | None) -> None:
        self._replace_lines("c", value)

    @property
    def bandwidths(self) -> tuple[Bandwidth, ...]:
        """The ``b=`` lines (RFC 8866 §5.8), in order."""
        return tuple(line for line in self.lines if type(line) is Bandwidth)

    # -- direction -----------------------------------------------------------------------

    @property
    def direction(self) -> Direction | None:
        """The first direction attribute of this level (RFC 8866 §6.7), or ``None``.

        ``None`` means "not stated here": a media section inherits the session level's,
        and the default is ``SENDRECV`` (``SessionDescription.direction_for``). Setting a
        ``Direction`` replaces the direction attributes in place (or appends one);
        setting ``None`` removes them.
        """
        for line in self.lines:
            if type(line) is Attribute and line.name in _DIRECTION_NAMES:
                return Direction(line.name)
        return None

    @direction.setter
    def direction(self, value: Direction | None) -> None:
        self._replace_attributes(
            _DIRECTION_NAMES, value.to_attribute() if value is not None else None
        )

    # -- ICE (RFC 8839), DTLS (RFC 8122, RFC 4145), RTCP, grouping ------------------------

    def _first_value(self, name: str) -> str | None:
        attribute = self.find(name)
        if attribute is None:
            return None
        return attribute.value if attribute.value is not None else ""

    @property
    def ice_ufrag(self) -> str | None:
        """``a=ice-ufrag`` (RFC 8839 §5.4), or ``None``."""
        return self._first_value("ice-ufrag")

    @property
    def ice_pwd(self) -> str | None:
        """``a=ice-pwd`` (RFC 8839 §5.4), or ``None``."""
        return self._first_value("ice-pwd")

    @property
    def ice_options(self) -> tuple[str, ...]:
        """The ``a=ice-options`` tags (RFC 8839 §5.6) of every such line, in order."""
        return tuple(
            tag
            for attribute in self.find_all("ice-options")
            for tag in (attribute.value or "").split()
        )

    @property
    def ice_lite(self) -> bool:
        """Whether ``a=ice-lite`` is present (RFC 8839 §5.3; session level)."""
        return self.has_attribute("ice-lite")

    @property
    def candidates(self) -> list[Candidate]:
        """The ``a=candidate`` lines that parse (RFC 8839 §5.1), in order."""
        return self.typed(Candidate)

    @property
    def end_of_candidates(self) -> bool:
        """Whether ``a=end-of-candidates`` is present (RFC 8840: no more candidates follow)."""
        return self.has_attribute("end-of-candidates")

    @property
    def fingerprints(self) -> list[Fingerprint]:
        """The ``a=fingerprint`` lines that parse (RFC 8122 §5), in order."""
        return self.typed(Fingerprint)

    @property
    def fingerprint(self) -> Fingerprint | None:
        """The first ``a=fingerprint`` that parses, or ``None``."""
        return self._first(Fingerprint)

    @property
    def setup(self) -> Setup | None:
        """``a=setup`` (RFC 4145 §4), or ``None`` if absent or not one of the four roles."""
        value = self._first_value("setup")
        if value is None:
            return None
        try:
            return Setup(value.strip().lower())
        except ValueError:
            return None

    @property
    def rtcp_mux(self) -> bool:
        """Whether ``a=rtcp-mux`` is present (RFC 5761 §5.1.1)."""
        return self.has_attribute("rtcp-mux")

    @property
    def rtcp(self) -> Rtcp | None:
        """The first ``a=rtcp`` that parses (RFC 3605), or ``None``."""
        return self._first(Rtcp)

    @property
    def mid(self) -> str | None:
        """``a=mid`` (RFC 5888 §4), or ``None``."""
        value = self._first_value("mid")
        return value.strip() if value is not None else None

    @property
    def groups(self) -> list[Group]:
        """The ``a=group`` lines that parse (RFC 5888 §5; session level)."""
        return self.typed(Group)

    @property
    def bundle(self) -> Group | None:
        """The first ``a=group:BUNDLE`` (RFC 8843), or ``None``."""
        for group in self.groups:
            if group.semantics.upper() == "BUNDLE":
                return group
        return None

    @property
    def msids(self) -> list[Msid]:
        """The ``a=msid`` lines that parse (RFC 8830)."""
        return self.typed(Msid)

    @property
    def ssrcs(self) -> list[Ssrc]:
        """The ``a=ssrc`` lines that parse (RFC 5576)."""
        return self.typed(Ssrc)

    @property
    def ssrc_groups(self) -> list[SsrcGroup]:
        """The ``a=ssrc-group`` lines that parse (RFC 5576)."""
        return self.typed(SsrcGroup)

    @property
    def extmaps(self) -> list[ExtMap]:
        """The ``a=extmap`` lines that parse (RFC 8285)."""
        return self.typed(ExtMap)

    @property
    def rtcp_feedback(self) -> list[RtcpFeedback]:
        """The ``a=rtcp-fb`` lines that parse (RFC 4585)."""
        return self.typed(RtcpFeedback)


# ---------------------------------------------------------------------------------------
# Media and session descriptions
# ---------------------------------------------------------------------------------------


class MediaDescription(_Section):
    """One ``m=`` section (RFC 8866 §5.14) and the lines after it.

    ``m=<media> <port>[/<port count>] <proto> <fmt> ...``

    ``MediaDescription(media, port, proto, formats, port_count=None, lines=[])``; mutable,
    compared by its fields.

    Raises:
        LocalProtocolError: a field does not fit the m= line's grammar.
    """

    __slots__ = ("formats", "media", "port", "port_count", "proto")

    _FIELDS: ClassVar[tuple[str, ...]] = (
        "media", "port", "proto", "formats", "port_count", "lines"
    )  # fmt: skip
    __match_args__ = ("media", "port", "proto", "formats", "port_count", "lines")

    media: str
    """``audio``, ``video``, ``application``..."""
    port: int
    """The transport port; 0 rejects or disables the stream (RFC 3264 §6, §8.2)."""
    proto: str
    """``RTP/AVP``, ``UDP/TLS/RTP/SAVPF``, ``UDP/DTLS/SCTP``..."""
    formats: list[str]
    """The format list as written (RTP payload type numbers, or e.g. ``webrtc-datachannel``)."""
    port_count: int | None
    """The ``/<number of ports>`` of the m= line, if written."""

    def __init__(  # noqa: PLR0917 (the positional signature of the dataclass it was)
        self,
        media: str,
        port: int,
        proto: str,
        formats: list[str],
        port_count: int | None = None,
        lines: list[Line] | None = None,
    ) -> None:
        _check_token(media, "m= media")
        _check_port(port, "m= port")
        if port_count is not None:
            _check_port(port_count, "m= port count", low=1)
        _check_token(proto, "m= proto")
        if not formats:
            raise LocalProtocolError("m= needs at least one format (RFC 8866 §5.14)")
        for fmt in formats:
            _check_token(fmt, "m= format")
        self.media = media
        self.port = port
        self.proto = proto
        self.formats = formats
        self.port_count = port_count
        self._lines = lines if lines is not None else []
        self._text = ""

    def m_line(self) -> str:
        """The ``m=`` line as written, without its line end."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"

    def copy(self) -> MediaDescription:
        """A copy whose lists can be edited without touching this section."""
        return MediaDescription(
            self.media, self.port, self.proto, list(self.formats), self.port_count, list(self.lines)
        )

    @property
    def is_rejected(self) -> bool:
        """Whether the port is 0 (a rejected or removed stream, RFC 3264 §6, §8.2)."""
        return self.port == 0

    @property
    def rtpmaps(self) -> list[RtpMap]:
        """The ``a=rtpmap`` lines that parse, in order."""
        return self.typed(RtpMap)

    @property
    def fmtps(self) -> list[Fmtp]:
        """The ``a=fmtp`` lines that parse, in order."""
        return self.typed(Fmtp)

    def rtpmap_for(self, payload_type: int) -> RtpMap | None:
        """The rtpmap of one payload type.

        Args:
            payload_type: the RTP payload type number.

        Returns:
            The first readable ``a=rtpmap`` for it, or ``None``.
        """
        for rtpmap in self.rtpmaps:
            if rtpmap.payload_type == payload_type:
                return rtpmap
        return None

    def fmtp_for(self, payload_type: int) -> Fmtp | None:
        """The fmtp of one payload type.

        Args:
            payload_type: the RTP payload type number.

        Returns:
            The first readable ``a=fmtp`` for it, or ``None``.
        """
        for fmtp in self.fmtps:
            if fmtp.payload_type == payload_type:
                return fmtp
        return None

    @property
    def codecs(self) -> list[Codec]:
        """The RTP payload formats in m= order (the offerer's preference, RFC 3264 §5.1).

        A format takes its name, clock rate and channels from its ``a=rtpmap``, or from
        the RFC 3551 static table when it has none (``0`` is PCMU/8000 without any
        rtpmap). Formats that are not numbers, and dynamic ones without a readable
        rtpmap, are left out: nothing says what they are. A section whose transport is
        not RTP (``UDP/DTLS/SCTP``...) has no codecs.
        """
        if "RTP" not in self.proto.upper().split("/"):
            return []  # not an RTP transport: formats are not payload types
        # One pass over the lines, reading rtpmap/fmtp values without building views.
        rtpmaps: dict[int, tuple[str, int, int | None]] = {}
        fmtps: dict[int, str] = {}
        for line in self.lines:
            if type(line) is not Attribute or line.value is None:
                continue
            if line.name == "rtpmap":
                rtpmap = _rtpmap_parts(line.value)
                if rtpmap is not None:
                    rtpmaps.setdefault(rtpmap[0], rtpmap[1:])
            elif line.name == "fmtp":
                fmtp = _fmtp_parts(line.value)
                if fmtp is not None:
                    fmtps.setdefault(fmtp[0], fmtp[1])
        codecs: list[Codec] = []
        for fmt in self.formats:
            if not _digits(fmt, 3):
                continue
            pt = int(fmt)
            known = rtpmaps.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)
            if known is not None:
                codecs.append(Codec(pt, known[0], known[1], known[2], fmtps.get(pt)))
        return codecs

    @property
    def telephone_events(self) -> list[Codec]:
        """The RFC 4733 ``telephone-event`` formats offered, in m= order."""
        return [codec for codec in self.codecs if codec.is_telephone_event]

    @property
    def has_telephone_event(self) -> bool:
        """Whether any ``telephone-event`` format is listed (DTMF over RTP possible)."""
        return bool(self.telephone_events)


class SessionDescription(_Section):
    """A whole SDP description (RFC 8866 §5).

    ``v=0``, ``o=``, ``s=`` are typed fields; ``lines`` holds every session-level line
    after ``s=`` in order (the optional fields, ``t=``, session attributes, unknown
    lines); ``media`` holds the ``m=`` sections.

    ``SessionDescription(origin, session_name="-", lines=[Timing(0, 0)], media=[])``.
    Mutable on purpose: offer/answer code edits descriptions. Value objects inside it
    (every line) are frozen, so ``copy()`` only has to copy lists.

    Raises:
        LocalProtocolError: ``origin`` is not an ``Origin`` or the session name holds CR,
            LF or NUL.
    """

    __slots__ = ("_origin", "media", "session_name")

    _FIELDS: ClassVar[tuple[str, ...]] = ("origin", "session_name", "lines", "media")
    __match_args__ = ("origin", "session_name", "lines", "media")

    _origin: Origin | list[str]
    """The origin, or for a parsed description the fields of its line (checked) until
    ``origin`` is first read."""
    session_name: str
    """The ``s=`` text (RFC 8866 §5.3), as written; ``-`` when there is none to give."""
    media: list[MediaDescription]
    """The media sections, in order."""

    def __init__(
        self,
        origin: Origin,
        session_name: str = "-",
        lines: list[Line] | None = None,
        media: list[MediaDescription] | None = None,
    ) -> None:
        if not isinstance(origin, Origin):
            raise LocalProtocolError(f"origin must be an Origin: {origin!r}")
        _check_text(session_name, "s= session name")
        self.origin = origin
        self.session_name = session_name
        self._lines = lines if lines is not None else [Timing(0, 0)]
        self._text = ""
        self.media = media if media is not None else []

    @property
    def version(self) -> int:
        """The ``v=`` value: always 0, the only SDP version there is (RFC 8866 §5.1)."""
        return 0

    @property
    def origin(self) -> Origin:
        """The ``o=`` line (RFC 8866 §5.2)."""
        origin = self._origin
        if isinstance(origin, list):
            origin = self._origin = _new_origin(origin)
        return origin

    @origin.setter
    def origin(self, origin: Origin) -> None:
        self._origin = origin

    # -- parsing -------------------------------------------------------------------------

    @classmethod
    def parse(
        cls, data: str | bytes | bytearray | memoryview, *, limits: SdpLimits = DEFAULT_SDP_LIMITS
    ) -> SessionDescription:
        """Read one SDP description.

        Lines may end in CRLF or a lone LF (RFC 8866 §5: "parsers SHOULD be tolerant and
        also accept lines terminated with a single newline character"). Bytes are read
        as UTF-8; bytes that are not UTF-8 are carried through unchanged
        (``surrogateescape``) so ``bytes(sdp)`` gives them back.

        Args:
            data: the body of an ``application/sdp`` message part.
            limits: caps on lines and media sections.

        Returns:
            The description. Nothing outside the mandatory structure is judged here (see
            the module docstring).

        Raises:
            RemoteProtocolError: the mandatory structure is broken; the message names
                the line (status 400). Nothing else is raised for any ``str`` or bytes.
            LocalProtocolError: ``data`` is not text or bytes.
        """
        if isinstance(data, str):
            text = data
        elif isinstance(data, _BINARY):
            text = bytes(data).decode("utf-8", "surrogateescape")
        else:
            raise LocalProtocolError(f"SDP must be str or bytes, not {type(data).__name__}")
        if "\x00" in text:
            raise RemoteProtocolError("SDP contains a NUL byte")
        if "\r" in text and _STRAY_CR.search(text):
            # RFC 8866 §5: text fields exclude CR; a lone CR ends no line either.
            raise RemoteProtocolError("SDP contains a CR that does not end a line")
        # Lines end in LF or CRLF; below, a line is read without its CR.
        size = len(text)
        if size > limits.max_lines and text.count("\n") > limits.max_lines:
            raise RemoteProtocolError(f"SDP has more than {limits.max_lines} lines")

        # RFC 8866 §5: "v=", "o=" and "s=" come first, in that order.
        header: list[tuple[int, str]] = []
        number = 0  # of the line last read
        start = 0  # of the line after it
        while len(header) < 3 and start <= size:
            end = text.find("\n", start)
            if end < 0:
                end = size
            number += 1
            line = text[start:end].removesuffix("\r")
            if line:
                header.append((number, line))
            start = end + 1
        if len(header) < 3:
            raise RemoteProtocolError("SDP must start with v=, o= and s= lines")
        (n_v, line_v), (n_o, line_o), (n_s, line_s) = header
        if line_v != "v=0":
            raise RemoteProtocolError(f"SDP line {n_v} must be v=0: {line_v[:80]!r}")
        if not line_o.startswith("o="):
            raise RemoteProtocolError(f"SDP line {n_o} must be o=: {line_o[:80]!r}")
        if not line_s.startswith("s="):
            raise RemoteProtocolError(f"SDP line {n_s} must be s=: {line_s[:80]!r}")
        try:
            origin = _origin_parts(line_o[2:])
        except _Malformed as exc:
            raise RemoteProtocolError(f"SDP line {n_o}: {exc}: {line_o[:80]!r}") from None

        # The other lines are checked here, but most are attributes with a name, which
        # need no more checking: _OTHER_LINES finds the rest (the newline before each
        # of them), and only those are read now. Each level keeps its text, and its line
        # objects are made when its ``lines`` is first read.
        description = object.__new__(cls)
        description._origin = origin
        description.session_name = line_s[2:]
        description._lines = None
        media: list[MediaDescription] = []
        description.media = media
        level: SessionDescription | MediaDescription = description
        level_start = start
        try:
            for found in _OTHER_LINES.finditer(text, start - 1):
                kind, value = found.group(1, 2)
                if kind == "m":
                    if len(media) >= limits.max_media:
                        raise _Malformed(f"more than {limits.max_media} media sections")
                    section = _read_media(value)
                    media.append(section)
                    level._text = text[level_start : found.start()]
                    level = section
                    level_start = found.end()
                elif kind is None or kind in "avos":
                    raise _misplaced(kind)
                else:
                    check = _CHECKS.get(kind)
                    if check is not None:
                        check(value)  # the line object is made when lines are read
        except _Malformed as exc:
            number = text.count("\n", 0, found.start() + 1) + 1
            line = found.group()[1:]
            raise RemoteProtocolError(f"SDP line {number}: {exc}: {line[:80]!r}") from None
        level._text = text[level_start:]
        return description

    # -- writing -------------------------------------------------------------------------

    def __str__(self) -> str:
        """The description with CRLF after every line (RFC 8866 §5)."""
        out = ["v=0", self.origin.to_line(), "s=" + self.session_name]
        out += [line.to_line() for line in self.lines]
        for section in self.media:
            out.append(section.m_line())
            out += [line.to_line() for line in section.lines]
        out.append("")
        return "\r\n".join(out)

    def __bytes__(self) -> bytes:
        """``str(self)`` as UTF-8; bytes that came in undecodable go out unchanged.

        Raises:
            UnicodeEncodeError: a ``str`` put into the model holds a lone surrogate that
                did not come from undecodable input bytes.
        """
        return str(self).encode("utf-8", "surrogateescape")

    # -- copies and lookups across levels ------------------------------------------------

    def copy(self) -> SessionDescription:
        """A copy whose lists (and media sections) can be edited independently."""
        return SessionDescription(
            self.origin, self.session_name, list(self.lines), [m.copy() for m in self.media]
        )

    @property
    def timings(self) -> tuple[Timing, ...]:
        """The ``t=`` lines (RFC 8866 §5.9)."""
        return tuple(line for line in self.lines if type(line) is Timing)

    @property
    def uri(self) -> str | None:
        """The ``u=`` text (RFC 8866 §5.5), or ``None``."""
        values = self._field_values("u")
        return values[0] if values else None

    @property
    def emails(self) -> list[str]:
        """The ``e=`` lines (RFC 8866 §5.6)."""
        return self._field_values("e")

    @property
    def phones(self) -> list[str]:
        """The ``p=`` lines (RFC 8866 §5.6)."""
        return self._field_values("p")

    def unknown_lines(self) -> list[Field]:
        """Lines whose type letter RFC 8866 §5 does not define, session level first."""
        found = [line for line in self.lines if type(line) is Field and line.is_unknown]
        for section in self.media:
            found += [line for line in section.lines if type(line) is Field and line.is_unknown]
        return found

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The connection that applies to a media section (RFC 8866 §5.7).

        Args:
            media: one of this description's sections.

        Returns:
            Its own first ``c=`` line, else the session's, else ``None``.
        """
        own = media.connection
        return own if own is not None else self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """The direction that applies to a media section.

        RFC 3264 §6.1: "if there is no direction attribute at the media or session level,
        ... the stream is sendrecv by default".

        Args:
            media: one of this description's sections.

        Returns:
            Its own direction, else the session's, else ``SENDRECV``.
        """
        own = media.direction
        if own is not None:
            return own
        session = self.direction
        return session if session is not None else Direction.SENDRECV

    def attribute_for(self, media: MediaDescription, name: str) -> Attribute | None:
        """An attribute that may sit at media or session level; the media level wins.

        ICE credentials (RFC 8839 §5.4), fingerprints (RFC 8122 §5) and setup
        (RFC 4145 §4) are such attributes.

        Args:
            media: one of this description's sections.
            name: the attribute name.

        Returns:
            The first ``name`` attribute of ``media``, else of the session level, else
            ``None``.
        """
        own = media.find(name)
        return own if own is not None else self.find(name)

    def media_with_mid(self, mid: str) -> MediaDescription | None:
        """Find a media section by its identification-tag (RFC 5888 §4).

        Args:
            mid: the ``a=mid`` value.

        Returns:
            The first section with that ``a=mid``, or ``None``.
        """
        for section in self.media:
            if section.mid == mid:
                return section
        return None
