"""SIP messages: ``Request``, ``Response``, ``parse_message`` and ``bytes(message)``.

``parse_message`` reads one whole message, as a WebSocket message (RFC 7118 §5) or a
UDP datagram carries it; stream transports cut messages out first with
``sipcore.framing.StreamFramer``. It checks the framing, the start line and the header
lines; typed header values are read on first access (and by ``validate()``), so a
message is cheap to route on its core fields. Every failure is a
``RemoteProtocolError`` with a status hint; nothing else escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sipcore import _abnf
from sipcore.address import NameAddress
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.fields import CSeq, MediaType, parse_uint
from sipcore.headers import (
    COMPACT_FORMS,
    KNOWN_NAMES,
    READERS,
    Headers,
    Index,
    canonical_name,
    unfold,
)
from sipcore.params import check_header_text
from sipcore.status import reason_phrase
from sipcore.uri import Uri, parse_uri
from sipcore.via import Via

__all__ = ["ParseLimits", "Message", "Request", "Response", "parse_message", "salvage_headers"]

_METHOD = re.compile(_abnf.METHOD + r"\Z")
_VERSION = re.compile(_abnf.SIP_VERSION + r"\Z")
_HEADER_NAME = re.compile(_abnf.TOKEN + r"\Z")
_STRAY_CR = re.compile(r"\r(?!\n)")
# The methods of RFC 3261 and its extensions, which _METHOD would accept anyway.
_KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
     "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}
)  # fmt: skip
_SECRET_PARAM = re.compile(r'(\bresponse\s*=\s*)("[^"]*"|[^\s,]+)', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Size caps that keep a hostile peer from making us buffer or parse without end."""

    max_message_size: int = 65535
    """Bytes in one message, body included (the UDP maximum; RFC 3261 §18.1.1)."""
    max_headers: int = 256
    """Header lines (after unfolding)."""
    max_header_length: int = 16384
    """Characters in one unfolded header line."""


DEFAULT_LIMITS = ParseLimits()


class Message:
    """What requests and responses share: headers, body and typed accessors.

    Accessors read the header on first use and cache it. A required header that is
    missing or malformed raises ``RemoteProtocolError`` (these accessors are how the
    transaction layer validates what it receives).
    """

    __slots__ = ("body", "headers")

    headers: Headers
    body: bytes
    sip_version: str

    def __init__(
        self, headers: Headers | Iterable[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = bytes(body)

    # -- the core fields -------------------------------------------------------------

    def _required(self, key: str) -> Any:
        value = self.headers._typed(key)
        if value is None:
            raise _missing(key)
        return value

    @property
    def call_id(self) -> str:
        """The Call-ID (RFC 3261 §8.1.1.4)."""
        value: str | None = self.headers._typed("call-id")
        if value is None:
            raise _missing("call-id")
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq: ``.seq`` and ``.method`` (§8.1.1.5)."""
        value: CSeq | None = self.headers._typed("cseq")
        if value is None:
            raise _missing("cseq")
        return value

    @property
    def via(self) -> list[Via]:
        """Every Via value, top first (empty if there is none)."""
        value: list[Via] | None = self.headers._typed("via")
        return value if value is not None else []

    @property
    def from_(self) -> NameAddress:
        """The From address (``.tag``, ``.uri``, ``.display_name``)."""
        value: NameAddress | None = self.headers._typed("from")
        if value is None:
            raise _missing("from")
        return value

    @property
    def to(self) -> NameAddress:
        """The To address (``.tag``, ``.uri``, ``.display_name``)."""
        value: NameAddress | None = self.headers._typed("to")
        if value is None:
            raise _missing("to")
        return value

    @property
    def contact(self) -> list[NameAddress]:
        """Every Contact (empty if none or if the Contact is the ``*`` wildcard)."""
        value: list[NameAddress] | None = self.headers._typed("contact")
        return value if value is not None else []

    @property
    def contact_is_wildcard(self) -> bool:
        """Whether the Contact is ``*`` (remove all bindings, RFC 3261 §10.2.2)."""
        values = self.headers.get_all("contact")
        return len(values) == 1 and values[0].strip() == "*"

    @property
    def route(self) -> list[NameAddress]:
        """The Route set in order (empty if none)."""
        value: list[NameAddress] | None = self.headers._typed("route")
        return value if value is not None else []

    @property
    def record_route(self) -> list[NameAddress]:
        """The Record-Route values in order (empty if none)."""
        value: list[NameAddress] | None = self.headers._typed("record-route")
        return value if value is not None else []

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (0..255), or ``None`` if absent."""
        value: int | None = self.headers._typed("max-forwards")
        return value

    @property
    def expires(self) -> int | None:
        """Expires in seconds, or ``None`` (malformed values read as 3600, §20.19)."""
        value: int | None = self.headers._typed("expires")
        return value

    @property
    def content_type(self) -> MediaType | None:
        """Content-Type, or ``None``."""
        value: MediaType | None = self.headers._typed("content-type")
        return value

    def typed(self, name: str) -> Any:
        """Any header with a reader in ``sipcore.headers.READERS`` (``None`` if absent)."""
        return self.headers.typed(name)

    def tokens(self, name: str) -> list[str]:
        """A token-list header (Allow, Supported, Require...) as a list; empty if absent."""
        value: list[str] | None = self.headers.typed(name)
        return value if value is not None else []

    # -- building --------------------------------------------------------------------

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        """Replace the body and set Content-Length (and Content-Type if given, else drop it
        when the body is empty)."""
        self.body = bytes(body)
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        elif not body:
            self.headers.remove("Content-Type")
        self.headers.set("Content-Length", str(len(self.body)))

    # -- checking --------------------------------------------------------------------

    def validate(self) -> None:
        """Read every header sipcore knows and check the ones a message must carry.

        Raises:
            RemoteProtocolError: with the status a UAS should answer (400 for a missing or
                malformed header, 505 for another SIP version).
        """
        _check_version(self.sip_version)
        headers = self.headers
        headers._check_known()
        # Every header present is valid now (and no reader gives None or an empty Via list).
        index = headers._built_index()
        for key in ("call-id", "cseq", "from", "to"):
            if key not in index:
                raise _missing(key)
        if "via" not in index:
            raise RemoteProtocolError("missing Via header")

    # -- writing ---------------------------------------------------------------------

    def start_line(self) -> str:
        """The Request-Line or Status-Line, without CRLF."""
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        parts = [self.start_line()]
        parts.extend(f"{name}: {value}" for name, _, value in self.headers._entries)
        parts.append("\r\n")
        return "\r\n".join(parts).encode("utf-8", "surrogateescape") + self.body

    def redacted(self) -> str:
        """The message as text for logs: digest ``response=`` values are replaced by ``***``."""
        lines = [self.start_line()]
        for name, key, value in self.headers._entries:
            shown = value
            if key in ("authorization", "proxy-authorization"):
                shown = _SECRET_PARAM.sub(r'\1"***"', value)
            lines.append(f"{name}: {shown}")
        text = "\r\n".join(lines) + "\r\n\r\n"
        return text + self.body.decode("utf-8", "replace")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Message)
        return (
            self.start_line() == other.start_line()
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]


class Request(Message):
    """A SIP request.

    Args:
        method: the method token (``INVITE``, ``REGISTER``...).
        uri: the Request-URI, parsed or as text.
        headers: header fields in order.
        body: the body bytes (Content-Length is the caller's, see ``set_body``).

    Raises:
        LocalProtocolError: the method is not a token or a header holds CR/LF.
    """

    __slots__ = ("_uri", "_uri_text", "method", "sip_version")

    method: str
    sip_version: str

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        if not _METHOD.match(method):
            raise LocalProtocolError(f"not a method: {method!r}")
        super().__init__(headers, body)
        self.method = method
        self.sip_version = "SIP/2.0"
        if isinstance(uri, str):
            check_header_text(uri, "Request-URI")
            self._uri: Uri | None = None
            self._uri_text = uri
        else:
            self._uri = uri
            self._uri_text = str(uri)

    @classmethod
    def _parsed(
        cls, method: str, uri_text: str, version: str, headers: Headers, body: bytes
    ) -> Request:
        self = cls.__new__(cls)
        self.method = method
        self._uri = None
        self._uri_text = uri_text
        self.sip_version = version
        self.headers = headers
        self.body = body
        return self

    @property
    def uri(self) -> Uri:
        """The Request-URI (read on first use).

        Raises:
            RemoteProtocolError: it is not a URI (RFC 4475 §3.1.2.7: ``<sip:...>``).
        """
        if self._uri is None:
            self._uri = parse_uri(self._uri_text)
        return self._uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        self._uri = value
        self._uri_text = str(value)

    def start_line(self) -> str:
        """``Method SP Request-URI SP SIP-Version``."""
        return f"{self.method} {self._uri_text} {self.sip_version}"

    def validate(self) -> None:
        """Everything ``Message.validate`` checks, plus the Request-URI and CSeq method.

        Raises:
            RemoteProtocolError: 400 for malformed or mismatched fields.
        """
        _ = self.uri
        super().validate()
        cseq = self.cseq
        if cseq.method != self.method:
            # RFC 3261 §8.1.1.5: "The method MUST match that of the request."
            raise RemoteProtocolError(f"CSeq method {cseq.method!r} does not match {self.method!r}")

    def __repr__(self) -> str:
        call_id = self.headers.get("call-id")
        return f"<Request {self.method} {self._uri_text} call-id={call_id!r}>"


class Response(Message):
    """A SIP response.

    Args:
        status_code: 100..699.
        reason: the reason phrase (default: the usual one for the code).
        headers: header fields in order.
        body: the body bytes.

    Raises:
        LocalProtocolError: status out of range, or reason/header text holds CR/LF.
    """

    __slots__ = ("reason", "sip_version", "status_code")

    status_code: int
    reason: str
    sip_version: str

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Headers | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        if not 100 <= status_code <= 699:
            raise LocalProtocolError(f"status code out of range: {status_code}")
        reason = reason_phrase(status_code) if reason is None else reason
        check_header_text(reason, "reason phrase")
        super().__init__(headers, body)
        self.status_code = status_code
        self.reason = reason
        self.sip_version = "SIP/2.0"

    @classmethod
    def _parsed(
        cls, status_code: int, reason: str, version: str, headers: Headers, body: bytes
    ) -> Response:
        self = cls.__new__(cls)
        self.status_code = status_code
        self.reason = reason
        self.sip_version = version
        self.headers = headers
        self.body = body
        return self

    @property
    def is_provisional(self) -> bool:
        """1xx."""
        return self.status_code < 200

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status_code < 300

    def start_line(self) -> str:
        """``SIP-Version SP Status-Code SP Reason-Phrase``."""
        return f"{self.sip_version} {self.status_code} {self.reason}"

    def __repr__(self) -> str:
        call_id = self.headers.get("call-id")
        return f"<Response {self.status_code} {self.reason} call-id={call_id!r}>"


def _missing(key: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"missing {canonical_name(key)} header")


def parse_message(data: bytes, *, limits: ParseLimits = DEFAULT_LIMITS) -> Request | Response:
    """Read one SIP message from a whole datagram or WebSocket message.

    Args:
        data: exactly one message. Octets after the Content-Length bytes of body are
            ignored (RFC 3261 §18.3; RFC 4475 §3.1.1.8). With no Content-Length, the
            body is the rest of the data (datagram semantics, RFC 4475 §3.4.1).
        limits: size caps.

    Returns:
        A ``Request`` or ``Response``.

    Raises:
        RemoteProtocolError: the message is malformed (status hint 400), too large (513),
            or not SIP/2.0 (505). Nothing else is ever raised.
    """
    try:
        return _parse(data, limits)
    except RemoteProtocolError:
        raise
    except Exception as exc:
        raise RemoteProtocolError(f"unparseable message: {exc}") from exc


def _parse(data: bytes, limits: ParseLimits) -> Request | Response:
    if len(data) > limits.max_message_size:
        raise RemoteProtocolError(
            f"message of {len(data)} bytes exceeds {limits.max_message_size}", status_hint=513
        )
    # RFC 3261 §7.5: ignore CRLF before the start line.
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        body_start = end + 4
    else:
        # Bare LF line ends (seen from broken peers and in RFC 5118's archive).
        end = data.find(b"\n\n", start)
        if end >= 0:
            body_start = end + 2
        elif data.endswith(b"\n"):
            # No empty line before the end of the datagram: no body (RFC 4475 baddn).
            body_start = len(data)
            end = body_start - (2 if data.endswith(b"\r\n") else 1)
        else:
            raise RemoteProtocolError("no end of header section")
    head = data[start:end].decode("utf-8", "surrogateescape")
    if not head:
        raise RemoteProtocolError("empty message")
    lines = head.split("\r\n")
    joined = "".join(lines)
    if "\n" in joined or "\r" in joined:
        # Not every line ends in CRLF: some end in a bare LF, or a CR stands alone. (Else
        # every CR and every LF belonged to one of the CRLFs split on.)
        lines = head.split("\n")
        if "\r" in head:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
            if _STRAY_CR.search(head):
                raise RemoteProtocolError("bare CR in header section")
    first = lines.pop(0)  # the rest are the header lines
    index = _read_header_lines(lines, limits, len(head))
    headers = Headers._read(lines, index)
    body = _read_body(data, body_start, headers, index)
    # RFC 3261 §7.1: "The SIP-Version string is case-insensitive" (so "sIP/2.0 200 OK" is
    # a Status-Line, not a request with a strange method).
    if first[:4].upper() == "SIP/":
        return _read_status_line(first, headers, body)
    return _read_request_line(first, headers, body)


def _read_header_lines(lines: list[str], limits: ParseLimits, size: int) -> Index:
    """Check the header lines ``lines`` of a section of ``size`` characters, and index
    their fields (see ``Headers``)."""
    index: Index = {}
    known = KNOWN_NAMES
    max_length = limits.max_header_length
    max_headers = limits.max_headers
    # No line, and no value unfolded from several, is longer than the whole section; and
    # continuation lines add no field. So most sections need no limit checked line by line.
    check_limits = size > max_length or len(lines) > max_headers
    fields = 0
    field_name = field_key = ""  # of the last field, which a continuation line continues
    for line in lines:
        # The usual line: "Known-Name: value". A known name holds no colon, so it is all
        # that comes before the first ":", and the value after ": " strips as after ":".
        name, sep, value = line.partition(": ")
        try:
            key = known[name]
        except KeyError:
            key = ""
        if not (key and sep):
            # Anything else: no blank after the colon, blanks before it, a name the table
            # does not list, a continuation, an empty line, a line without a colon.
            if not line:
                raise RemoteProtocolError("empty line inside header section")
            if line[0] in " \t":
                _unfold(line, field_name, field_key, index, max_length)
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise RemoteProtocolError(f"header line without ':': {line[:40]!r}")
            name = name.rstrip(" \t")
            lname = name.lower()
            key = COMPACT_FORMS.get(lname, lname)
            if key not in READERS and not _HEADER_NAME.match(name):
                raise RemoteProtocolError(f"invalid header name {name[:40]!r}")
        if check_limits:
            if len(line) > max_length:
                raise RemoteProtocolError(f"{name} header longer than {max_length}")
            if fields == max_headers:
                raise RemoteProtocolError(f"more than {max_headers} header fields")
            fields += 1
        value = value.strip()
        field_name, field_key = name, key
        # index_value(index, key, value), inline:
        if key in index:
            old = index[key]
            if isinstance(old, str):
                index[key] = [old, value]
            else:
                old.append(value)
        else:
            index[key] = value
    return index


def _unfold(line: str, name: str, key: str, index: Index, max_length: int) -> None:
    # §7.3.1: a line starting with whitespace continues the previous one.
    if not key:
        raise RemoteProtocolError("continuation line before any header")
    old = index[key]
    value = unfold(old if isinstance(old, str) else old[-1], line)
    if len(value) > max_length:
        raise RemoteProtocolError(f"{name} header longer than {max_length}")
    if isinstance(old, str):
        index[key] = value
    else:
        old[-1] = value


def _read_body(data: bytes, body_start: int, headers: Headers, index: Index) -> bytes:
    lengths = index.get("content-length")
    if lengths is None:
        return data[body_start:]
    if isinstance(lengths, str):
        length = parse_uint(lengths, "Content-Length")
        headers._cache["content-length"] = length  # what typed("content-length") reads
    elif len({v.strip() for v in lengths}) > 1:
        # RFC 4475 §3.3.9: conflicting lengths leave the framing undefined.
        raise RemoteProtocolError("conflicting Content-Length values")
    else:
        length = parse_uint(lengths[0], "Content-Length")
    available = len(data) - body_start
    if length > available:
        # RFC 4475 §3.1.2.2: a datagram (or WebSocket message) cannot grow.
        raise RemoteProtocolError(
            f"Content-Length {length} exceeds the {available} bytes of body received"
        )
    return data[body_start : body_start + length]


def _read_request_line(line: str, headers: Headers, body: bytes) -> Request:
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF (single spaces: RFC 4475
    # §3.1.2.8-10 let us refuse embedded or extra whitespace). The URI and the version are
    # checked by validate(), so that a UAS can still answer 400 or 505 to the request.
    parts = line.split(" ")
    if len(parts) != 3:
        raise RemoteProtocolError(f"malformed Request-Line: {line[:60]!r}")
    method, uri_text, version = parts
    if method not in _KNOWN_METHODS and not _METHOD.match(method):
        raise RemoteProtocolError(f"invalid method {method[:30]!r}")
    if version != "SIP/2.0" and not _VERSION.match(version):
        raise RemoteProtocolError(f"malformed SIP version {version[:20]!r}")
    return Request._parsed(method, uri_text, version, headers, body)


def _read_status_line(line: str, headers: Headers, body: bytes) -> Response:
    # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    version, _, rest = line.partition(" ")
    code_text, _, reason = rest.partition(" ")
    if version != "SIP/2.0" and not _VERSION.match(version):
        raise RemoteProtocolError(f"malformed SIP version {version[:20]!r}")
    if len(code_text) != 3 or not code_text.isdigit() or not 100 <= int(code_text) <= 699:
        raise RemoteProtocolError(f"invalid status code {code_text[:20]!r}")
    return Response._parsed(int(code_text), reason, version, headers, body)


def _check_version(version: str) -> None:
    if version.upper() != "SIP/2.0":
        raise RemoteProtocolError(f"SIP version {version!r} not supported", status_hint=505)


def salvage_headers(data: bytes, *, limits: ParseLimits = DEFAULT_LIMITS) -> Headers | None:
    """The header section of a message whose start line or body could not be read.

    A UAS uses it to answer a malformed request with 400 (RFC 3261 §8.2: the response
    needs the request's Via, From, To, Call-ID and CSeq). ``None`` if even the header
    lines cannot be read.
    """
    try:
        start = len(data) - len(data.lstrip(b"\r\n"))
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            # Bare LF line ends, which parse_message accepts too (RFC 5118's archive): without
            # this the body would be read as header lines and the request left unanswered,
            # where RFC 3261 §8.2 has a UAS answer a malformed request with 400.
            end = data.find(b"\n\n", start)
        head = data[start : end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")
        lines = [line.rstrip("\r") for line in head.split("\n")]
        if any("\r" in line for line in lines):
            # A bare CR inside a header value could not be echoed in a response (it would
            # end the header line there: header injection); parse_message refuses it too.
            return None
        header_lines = lines[1:]
        return Headers._read(header_lines, _read_header_lines(header_lines, limits, len(head)))
    except RemoteProtocolError:
        return None
