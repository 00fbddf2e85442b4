"""The server role of sipcore: a sans-IO registrar + stateful proxy (``LocalServer``).

It is what the embedded development server (``sipadapters.server``) runs for
``exotel-voice demo`` and offline work; real deployments and the test suite use a real
server (Kamailio). No I/O, no clock: flows, bytes and the time come in, ``(flow, bytes)``
pairs and the next deadline go out, exactly as with ``UserAgent``.

What it does: digest-authenticated registration (401, stale nonces, 423, Contact ``*``)
with RFC 5626 flow binding; a location service with expiring bindings; stateful
forking proxying between registered phones with double Record-Route carrying flow
tokens; loose routing of in-dialog requests; CANCEL; 407 for new requests from its own
users (as the suite's Kamailio); OPTIONS to itself; 404/480/483/416/420/403; malformed
input answered 400 or dropped.

Limits (it is a development server): one domain; no forwarding outside it (no DNS, no
outbound connections: a phone is reachable only over the flow it registered on); no
stateless forwarding of stray responses; no Path/GRUU/PUBLISH/presence; no aggregation
of several branches' challenges; UDP peers' flow tokens are kept for the server's life;
users and passwords live in memory, in clear.
"""

from __future__ import annotations

from sipcore.server.auth import DigestGuard
from sipcore.server.config import ServerConfig
from sipcore.server.events import (
    ContactBound,
    ContactUnbound,
    MessageRejected,
    RequestForwarded,
    ServerEvent,
    UnbindReason,
)
from sipcore.server.flow import TRANSPORTS, Flow
from sipcore.server.location import Binding, LocationService
from sipcore.server.server import ALLOW, LocalServer

__all__ = [
    "LocalServer",
    "ServerConfig",
    "Flow",
    "TRANSPORTS",
    "Binding",
    "LocationService",
    "DigestGuard",
    "ALLOW",
    # events
    "ServerEvent",
    "ContactBound",
    "ContactUnbound",
    "UnbindReason",
    "RequestForwarded",
    "MessageRejected",
]
