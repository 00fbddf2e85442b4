"""Cutting messages out of a byte stream (TCP, TLS), and RFC 5626 CRLF keepalives.

Over a stream, RFC 3261 §18.3 frames each message by its Content-Length, which is
mandatory there. Between messages RFC 5626 §3.5.1 uses a double CRLF as a keepalive
"ping" and a single CRLF as the "pong". Message-per-frame transports (UDP, and
WebSocket per RFC 7118 §5) need no framer, but carry the same pings as whole frames:
``keepalive_kind`` recognises them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from sipcore.errors import RemoteProtocolError
from sipcore.message import DEFAULT_LIMITS, ParseLimits

__all__ = ["KeepAlive", "keepalive_kind", "StreamFramer", "Frame", "PING", "PONG"]

PING = b"\r\n\r\n"
"""RFC 5626 §3.5.1 keepalive request (double CRLF)."""
PONG = b"\r\n"
"""RFC 5626 §3.5.1 keepalive response (single CRLF)."""

_CONTENT_LENGTH = re.compile(
    rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)


class KeepAlive(enum.Enum):
    """A keepalive frame."""

    PING = "ping"
    PONG = "pong"


def keepalive_kind(data: bytes) -> KeepAlive | None:
    """Whether a whole frame is a keepalive: ``PING`` (CRLFCRLF), ``PONG`` (CRLF), or neither."""
    if data == PING:
        return KeepAlive.PING
    if data == PONG:
        return KeepAlive.PONG
    return None


@dataclass(frozen=True, slots=True)
class Frame:
    """What the framer found next: a whole message (bytes) or a keepalive."""

    message: bytes | None = None
    keepalive: KeepAlive | None = None


class StreamFramer:
    """Buffer a byte stream and hand out whole SIP messages and keepalives.

    Feed bytes with ``feed``; take frames with ``next_frame`` until it returns ``None``.
    A framing error (no or bad Content-Length, a message over the size cap) is
    unrecoverable on a stream: the caller must close the connection (RFC 4475 §3.1.2.3).

    Which keepalive a CRLF starts depends on the side (RFC 5626 §3.5.1: the client pings
    with CRLF CRLF, the server pongs with CRLF). A client's framer reads a CRLF as a pong
    at once. A server's framer (``server=True``) waits for the second CRLF of a ping that
    arrived cut in two, and ignores a lone CRLF before a message (RFC 3261 §7.5).
    """

    __slots__ = ("_buffer", "_limits", "_server")

    def __init__(self, limits: ParseLimits = DEFAULT_LIMITS, *, server: bool = False) -> None:
        self._buffer = bytearray()
        self._limits = limits
        self._server = server

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def next_frame(self) -> Frame | None:
        """The next whole frame, or ``None`` if more bytes are needed.

        Raises:
            RemoteProtocolError: the stream cannot be framed any more.
        """
        buf = self._buffer
        while buf.startswith(b"\r\n"):
            if buf.startswith(PING):
                del buf[:4]
                return Frame(keepalive=KeepAlive.PING)
            if len(buf) < 4 and PING.startswith(bytes(buf)) and (self._server or len(buf) == 3):
                return None  # the rest of a ping may be on its way
            if not self._server:
                del buf[:2]
                return Frame(keepalive=KeepAlive.PONG)
            del buf[:2]  # a stray CRLF before a message (§7.5): ignore it
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._limits.max_message_size:
                raise RemoteProtocolError(
                    "header section exceeds the message size cap", status_hint=513
                )
            return None
        head = bytes(buf[: end + 2])
        lengths = {m.group(1) for m in _CONTENT_LENGTH.finditer(head)}
        if not lengths:
            # RFC 3261 §18.3: "the Content-Length header field MUST be used with stream
            # oriented transports."
            raise RemoteProtocolError("message on a stream without Content-Length")
        if len(lengths) > 1:
            raise RemoteProtocolError("conflicting Content-Length values")
        text = lengths.pop()
        if not text.isdigit() or len(text) > 10:
            raise RemoteProtocolError(f"malformed Content-Length {text[:20]!r}")
        total = end + 4 + int(text)
        if total > self._limits.max_message_size:
            raise RemoteProtocolError(f"message of {total} bytes exceeds the cap", status_hint=513)
        if len(buf) < total:
            return None
        message = bytes(buf[:total])
        del buf[:total]
        return Frame(message=message)
