"""Small typed header values: CSeq, Content-Type, Retry-After, Reason, Event, Session-Expires.

Each is a frozen value with a ``parse`` reader and a ``__str__`` writer; the grammar
rule is quoted above each reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sipcore import _abnf
from sipcore._values import LazyValue
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.params import (
    Params,
    format_params,
    get_param,
    parse_params,
    split_commas,
)

__all__ = [
    "MAX_UINT32",
    "CSeq",
    "MediaType",
    "RetryAfter",
    "Reason",
    "EventHeader",
    "SessionExpires",
    "parse_uint",
    "parse_token_list",
    "TOKEN_LIST",
    "PLAIN_MEDIA_TYPE",
]

MAX_UINT32 = 2**32 - 1

_S = _abnf.SWS
_TOKEN_RE = re.compile(_abnf.TOKEN + r"\Z")
# CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
_CSEQ = re.compile(rf"([0-9]+)[ \t]+({_abnf.METHOD})[ \t]*\Z")
# media-type = m-type SLASH m-subtype *(SEMI m-parameter)
_MEDIA_TYPE = re.compile(rf"({_abnf.TOKEN}){_S}/{_S}({_abnf.TOKEN})")
# A media type with plain parameters (_abnf.PLAIN_PARAMS), which MediaType.parse reads
# without error: what a Content-Type usually is (Headers checks values with it).
PLAIN_MEDIA_TYPE = re.compile(rf"{_abnf.TOKEN}{_S}/{_S}{_abnf.TOKEN}{_abnf.PLAIN_PARAMS}\Z")
# Retry-After = "Retry-After" HCOLON delta-seconds [ comment ] *( SEMI retry-param )
_RETRY_AFTER = re.compile(rf"([0-9]+){_S}(\([^)]*\))?")
# reason-value = protocol *(SEMI reason-params); protocol = "SIP" / "Q.850" / token
_REASON = re.compile(rf"({_abnf.TOKEN})")
# Session-Expires = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)
_DELTA = re.compile(r"([0-9]+)")
_DIGITS = re.compile(r"[0-9]+\Z")
# A token list (Allow: ACK, INVITE, BYE):
#   Allow = "Allow" HCOLON [Method *(COMMA Method)]; COMMA = SWS "," SWS
# Its elements are exactly the tokens in it, in order (see parse_token_list, which reads
# every value it matches without error; Headers checks values with it).
TOKEN_LIST = re.compile(rf"{_S}{_abnf.TOKEN}(?:{_S},{_S}{_abnf.TOKEN})*{_S}\Z")
_TOKEN = re.compile(_abnf.TOKEN)
# Token characters and commas only: a token list without blanks if no comma is first,
# last or doubled (checked beside it), whose elements are the text between the commas.
_TOKENS_AND_COMMAS = re.compile(r"[A-Za-z0-9\-.!%*_+`'~,]+\Z")
_new = object.__new__
_setattr = object.__setattr__  # how a frozen dataclass sets its fields


def parse_uint(text: str, what: str, maximum: int = MAX_UINT32) -> int:
    """A decimal integer in ``0..maximum`` (leading zeros allowed, RFC 4475 §3.1.1.1).

    Raises:
        RemoteProtocolError: not digits, or larger than ``maximum`` (RFC 4475 §3.1.2.4).
    """
    text = text.strip()
    if len(text) <= 9 and text.isascii() and text.isdigit():
        # Nine digits or fewer cannot overflow a bignum check; compare directly.
        value = int(text)
        if value > maximum:
            raise RemoteProtocolError(f"{what} out of range (max {maximum}): {text[:30]!r}")
        return value
    if not _DIGITS.match(text):
        raise RemoteProtocolError(f"{what} is not a non-negative integer: {text[:30]!r}")
    # A long run of digits is already too large; don't make Python build a bignum.
    if len(text.lstrip("0")) > len(str(maximum)) or int(text) > maximum:
        raise RemoteProtocolError(f"{what} out of range (max {maximum}): {text[:30]!r}")
    return int(text)


def parse_token_list(values: list[str], what: str) -> list[str]:
    """A comma list of tokens (Allow, Supported, Require, Unsupported...).

    Empty header values are allowed (``Supported:`` with nothing means none).

    Raises:
        RemoteProtocolError: an element is not a token.
    """
    out: list[str] = []
    for value in values:
        if (
            _TOKENS_AND_COMMAS.match(value)
            and value[0] != ","
            and value[-1] != ","
            and ",," not in value
        ):
            out += value.split(",")
            continue
        if TOKEN_LIST.match(value):
            # Only tokens, commas and blanks: the elements are the tokens themselves.
            out += _TOKEN.findall(value)
            continue
        if not value.strip():
            continue
        for item in split_commas(value):
            if not _TOKEN_RE.match(item):
                raise RemoteProtocolError(f"{what}: not a token: {item[:30]!r}")
            out.append(item)
    return out


class CSeq(LazyValue):
    """The CSeq header: sequence number and method (RFC 3261 §8.1.1.5).

    A frozen value: ``CSeq(seq, method)``.

    Raises:
        LocalProtocolError: ``seq`` is outside 0..2**32-1 or ``method`` is not a token.
    """

    __slots__ = ("_method", "_seq")

    _FIELDS: ClassVar[tuple[str, ...]] = ("seq", "method")
    __match_args__ = ("seq", "method")

    def __init__(self, seq: int, method: str) -> None:
        if not 0 <= seq <= MAX_UINT32:
            raise LocalProtocolError(f"CSeq out of range: {seq}")
        if not _TOKEN_RE.match(method):
            raise LocalProtocolError(f"CSeq method is not a token: {method!r}")
        self._seq = seq
        self._method = method

    @property
    def seq(self) -> int:
        """The sequence number."""
        return self._seq

    @property
    def method(self) -> str:
        """The method."""
        return self._method

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Read ``1*DIGIT LWS Method``.

        Raises:
            RemoteProtocolError: malformed or the number exceeds 2**32-1.
        """
        m = _CSEQ.match(text.strip())
        if m is None:
            raise RemoteProtocolError(f"malformed CSeq: {text[:40]!r}")
        digits, method = m.groups()
        # The regex and parse_uint check what __init__ checks (nine digits or fewer are
        # in range as they are).
        self = _new(cls)
        self._seq = int(digits) if len(digits) < 10 else parse_uint(digits, "CSeq")
        self._method = method
        return self

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@dataclass(frozen=True, slots=True)
class MediaType:
    """A Content-Type / Accept value: ``type/subtype;params``, type and subtype lower case."""

    type: str
    subtype: str
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> MediaType:
        """Read ``m-type SLASH m-subtype *(SEMI m-parameter)``.

        Raises:
            RemoteProtocolError: malformed.
        """
        text = text.strip()
        m = _MEDIA_TYPE.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed media type: {text[:40]!r}")
        # Built directly: the regex checked what the dataclass constructor would.
        media_type = _new(cls)
        _setattr(media_type, "type", m.group(1).lower())
        _setattr(media_type, "subtype", m.group(2).lower())
        _setattr(media_type, "params", parse_params(text, m.end(), "media type"))
        return media_type

    @property
    def essence(self) -> str:
        """``type/subtype`` without parameters."""
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """A parameter's value (``charset``, ``boundary``...), or ``None``."""
        return get_param(self.params, name)

    def __str__(self) -> str:
        return self.essence + format_params(self.params)


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Retry-After (RFC 3261 §20.33): seconds, optional comment, parameters."""

    seconds: int
    comment: str | None = None
    params: Params = ()

    @property
    def duration(self) -> int | None:
        """The ``duration`` parameter, if numeric."""
        value = get_param(self.params, "duration")
        return int(value) if value is not None and value.isdigit() else None

    @classmethod
    def parse(cls, text: str) -> RetryAfter:
        """Read the header value.

        Raises:
            RemoteProtocolError: malformed or out of range (RFC 4475 §3.1.2.5).
        """
        text = text.strip()
        m = _RETRY_AFTER.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed Retry-After: {text[:40]!r}")
        seconds = parse_uint(m.group(1), "Retry-After")
        comment = m.group(2)[1:-1] if m.group(2) else None
        return cls(seconds, comment, parse_params(text, m.end(), "Retry-After"))

    def __str__(self) -> str:
        comment = f" ({self.comment})" if self.comment is not None else ""
        return f"{self.seconds}{comment}{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class Reason:
    """One Reason value (RFC 3326): ``SIP ;cause=200 ;text="Call completed elsewhere"``."""

    protocol: str
    params: Params = ()

    @property
    def cause(self) -> int | None:
        """The ``cause`` parameter, if numeric."""
        value = get_param(self.params, "cause")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def text(self) -> str | None:
        """The ``text`` parameter, unquoted."""
        return get_param(self.params, "text")

    @classmethod
    def parse(cls, text: str) -> Reason:
        """Read one reason-value.

        Raises:
            RemoteProtocolError: malformed.
        """
        text = text.strip()
        m = _REASON.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed Reason: {text[:40]!r}")
        return cls(m.group(1), parse_params(text, m.end(), "Reason"))

    def __str__(self) -> str:
        return self.protocol + format_params(self.params)


@dataclass(frozen=True, slots=True)
class EventHeader:
    """Event (RFC 6665 §8.2.1): a package name and parameters such as ``id``."""

    package: str
    params: Params = ()

    @property
    def id(self) -> str | None:
        """The ``id`` parameter."""
        return get_param(self.params, "id")

    @classmethod
    def parse(cls, text: str) -> EventHeader:
        """Read ``event-type *( SEMI event-param )``.

        Raises:
            RemoteProtocolError: malformed.
        """
        text = text.strip()
        m = _REASON.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed Event: {text[:40]!r}")
        return cls(m.group(1), parse_params(text, m.end(), "Event"))

    def __str__(self) -> str:
        return self.package + format_params(self.params)


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """Session-Expires (RFC 4028 §4): interval and optional refresher (``uac``/``uas``)."""

    seconds: int
    params: Params = ()

    @property
    def refresher(self) -> str | None:
        """``"uac"``, ``"uas"`` or ``None``."""
        value = get_param(self.params, "refresher")
        return value.lower() if value is not None else None

    @classmethod
    def parse(cls, text: str) -> SessionExpires:
        """Read ``delta-seconds *(SEMI se-params)``.

        Raises:
            RemoteProtocolError: malformed.
        """
        text = text.strip()
        m = _DELTA.match(text)
        if m is None:
            raise RemoteProtocolError(f"malformed Session-Expires: {text[:40]!r}")
        seconds = parse_uint(m.group(1), "Session-Expires")
        return cls(seconds, parse_params(text, m.end(), "Session-Expires"))

    def __str__(self) -> str:
        return f"{self.seconds}{format_params(self.params)}"
