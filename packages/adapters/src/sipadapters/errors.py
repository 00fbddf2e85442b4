"""Our own errors at the I/O edge: backends' exceptions never leak past the adapters."""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator

import anyio
import wsproto.utilities

__all__ = [
    "TransportError",
    "ConnectError",
    "HandshakeError",
    "TransportClosed",
    "mapped_errors",
    "mapped_error",
    "BACKEND_ERRORS",
]


class TransportError(Exception):
    """The connection to the SIP server failed or broke."""


class ConnectError(TransportError):
    """Could not connect (refused, unreachable, timed out, TLS verification failed)."""


class HandshakeError(ConnectError):
    """The WebSocket handshake failed, e.g. the server did not select subprotocol ``sip``."""


class TransportClosed(TransportError):
    """The peer closed the connection (or we did)."""


@contextlib.contextmanager
def mapped_errors(what: str, kind: type[TransportError] = TransportError) -> Iterator[None]:
    """Turn the backend's exceptions (OSError, anyio, ssl, wsproto) into ``kind``.

    After httpcore's ``map_exceptions``: callers above the adapters only ever see our
    ``TransportError`` family. Hot paths use ``mapped_error`` in an ``except
    BACKEND_ERRORS`` clause instead (no context manager; ``what`` formatted on failure).
    """
    try:
        yield
    except BACKEND_ERRORS as exc:
        raise mapped_error(exc, what, kind) from exc


def mapped_error(
    exc: Exception, what: str, kind: type[TransportError] = TransportError
) -> TransportError:
    """Ours for one of ``BACKEND_ERRORS``: ``raise mapped_error(exc, what) from exc``."""
    if isinstance(exc, anyio.EndOfStream | anyio.ClosedResourceError):
        return TransportClosed(f"{what}: connection closed")
    if isinstance(exc, anyio.BrokenResourceError):
        return TransportClosed(f"{what}: connection broken ({exc.__cause__ or exc})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message
        return ConnectError(f"{what}: TLS certificate verification failed: {reason}")
    return kind(f"{what}: {_describe(exc)}")


BACKEND_ERRORS = (
    anyio.EndOfStream,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    OSError,  # ssl.SSLError and ssl.SSLCertVerificationError among them
    TimeoutError,
    wsproto.utilities.LocalProtocolError,
    wsproto.utilities.RemoteProtocolError,
)
"""What the backends raise when a connection fails: ``mapped_error`` makes it ours."""


def _describe(exc: BaseException) -> str:
    """The error's text, with the reasons anyio keeps in ``__cause__`` (e.g. "refused")."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno and os.strerror(exc.errno) not in text:
        text = f"{text}: {os.strerror(exc.errno)}"
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        reasons = sorted({_describe(inner) for inner in cause.exceptions})
        return f"{text} ({'; '.join(reasons)})"
    if cause is not None:
        return f"{text} ({_describe(cause)})"
    return text
