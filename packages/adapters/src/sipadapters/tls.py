"""TLS settings for wss:// and tls:// connections: verified unless the user says otherwise."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import anyio
import anyio.abc

__all__ = ["TlsOptions", "connect_stream", "local_address"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How to check the server's certificate.

    By default the system's trusted CAs verify the certificate and its host name.
    ``ca_file`` trusts a given CA bundle instead (a private CA, a test CA).
    ``insecure=True`` turns verification off entirely and says so in the log every time
    a context is made: use it only against a server you control.
    """

    ca_file: str | None = None
    """PEM file of CA certificates to trust (instead of the system's)."""
    insecure: bool = False
    """Skip certificate and host name verification (loudly)."""

    def context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a client connection with these settings."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.insecure:
            logger.warning(
                "TLS certificate verification is OFF (insecure=True): the connection can be "
                "intercepted by anyone on the path"
            )
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


async def connect_stream(
    host: str, port: int, *, secure: bool, tls: TlsOptions | None = None
) -> anyio.abc.ByteStream:
    """A TCP connection to ``host:port``, wrapped in TLS (verified per ``tls``) if ``secure``."""
    if not secure:
        return await anyio.connect_tcp(host, port)
    return await anyio.connect_tcp(
        host,
        port,
        ssl_context=(tls or TlsOptions()).context(),
        tls_hostname=host,
        # SIP servers often close TLS without close_notify; don't treat that as an attack.
        tls_standard_compatible=False,
    )


def local_address(stream: anyio.TypedAttributeProvider) -> tuple[str, int]:
    """Our (IP address, port) of a connected socket or of a TLS stream over one."""
    address = stream.extra(anyio.abc.SocketAttribute.local_address)  # noqa: S610 (anyio, not Django)
    if not isinstance(address, tuple):
        raise TypeError(f"not an IP socket: {address!r}")
    return str(address[0]), int(address[1])
