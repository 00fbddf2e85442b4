"""Our own errors at the I/O edge: backends' exceptions never leak past the adapters."""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator

import anyio
import wsproto.utilities

__all__ = ["TransportError", "ConnectError", "HandshakeError", "TransportClosed", "mapped_errors"]


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
    ``TransportError`` family.
    """
    try:
        yield
    except TransportError:
        raise
    except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
        raise TransportClosed(f"{what}: connection closed") from exc
    except anyio.BrokenResourceError as exc:
        raise TransportClosed(f"{what}: connection broken ({exc.__cause__ or exc})") from exc
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message
        raise ConnectError(f"{what}: TLS certificate verification failed: {reason}") from exc
    except (OSError, ssl.SSLError, TimeoutError, wsproto.utilities.LocalProtocolError,
            wsproto.utilities.RemoteProtocolError) as exc:  # fmt: skip
        raise kind(f"{what}: {_describe(exc)}") from exc


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
