"""The embedded development server: sipcore's ``LocalServer`` over ws, wss, tcp and udp.

A registrar + proxy for ``exotel-voice demo`` and offline development, listening on
loopback; deployments and the test suite use a real server (Kamailio).
"""

from __future__ import annotations

from sipadapters.server.certs import TlsFiles, make_development_certificates
from sipadapters.server.runner import DEFAULT_TRANSPORTS, LocalServerRunner, serve

__all__ = [
    "serve",
    "LocalServerRunner",
    "DEFAULT_TRANSPORTS",
    "TlsFiles",
    "make_development_certificates",
]
