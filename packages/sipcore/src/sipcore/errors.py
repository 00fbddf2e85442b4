"""The two error classes of sipcore, after h11's ``_util.py``.

``LocalProtocolError`` means the caller asked for something the protocol does not
allow; the state of the object that raised it is unchanged. ``RemoteProtocolError``
means the peer sent something we cannot accept; ``status_hint`` is the SIP status a
UAS would answer it with (RFC 3261 §8.2, §21).
"""

from __future__ import annotations

__all__ = ["SipError", "LocalProtocolError", "RemoteProtocolError"]


class SipError(Exception):
    """Base class of every error sipcore raises on purpose."""

    def __init__(self, message: str, *, status_hint: int = 400) -> None:
        super().__init__(message)
        self.status_hint = status_hint
        """The SIP status code that best answers this error (400 unless said otherwise)."""


class LocalProtocolError(SipError):
    """The caller misused the API; nothing was queued and no state changed."""

    def __init__(self, message: str, *, status_hint: int = 500) -> None:
        super().__init__(message, status_hint=status_hint)


class RemoteProtocolError(SipError):
    """The peer sent something malformed or not allowed.

    ``status_hint`` is the response a UAS should send: 400 (malformed), 416 (URI scheme),
    420 (bad extension), 481 (no such transaction/dialog), 482 (loop/merged), 491 (request
    pending), 500, 501 (method), 505 (version)...
    """
