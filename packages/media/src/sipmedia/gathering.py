"""ICE candidate gathering with a bound: what came in time, without the slow servers.

aioice's ``Connection.gather_candidates`` (which aiortc awaits inside
``setLocalDescription``) waits a fixed 5 s for each STUN/TURN server's answer, so a
server that never answers holds a non-trickle offer or answer for 5 s, whatever bound
the caller puts around it, and a bound shorter than that can only fail the call.
``gather_candidates`` here does the same gathering with the caller's bound: host
candidates at once, server-reflexive and relayed ones asked in parallel, the queries
still pending at the bound dropped. Calls (``MediaSession``) and the network probe
(``sipmedia.probes``) both gather through it.
"""

from __future__ import annotations

import asyncio

from aioice import Candidate, Connection
from aioice.ice import TransportPolicy, get_host_addresses

from sipmedia.rtp import AiortcMismatchError

__all__ = ["gather_candidates"]

# The aioice 0.9-0.13 internals ``Connection.gather_candidates`` keeps its state in.
_STATE = (
    "_local_candidates",
    "_local_candidates_start",
    "_local_candidates_end",
    "_components",
    "_transport_policy",
    "_use_ipv4",
    "_use_ipv6",
)


async def gather_candidates(
    connection: Connection, timeout: float, addresses: list[str] | None = None
) -> list[Candidate]:
    """Gather ``connection``'s local candidates, waiting at most ``timeout`` for servers.

    Afterwards ``connection`` counts as gathered: its ``local_candidates`` are these,
    and a later ``connection.gather_candidates()`` (aiortc's, inside
    ``setLocalDescription``) returns at once without asking any server again. A
    connection that already gathered is left as it is.

    Args:
        connection: an aioice connection that has not gathered yet.
        timeout: seconds to wait for the STUN/TURN servers' answers; those still
            pending then are dropped.
        addresses: local addresses for host candidates (default: as the connection
            itself would pick them, following its IPv4/IPv6 and transport policy).

    Returns:
        The connection's local candidates, host candidates first.

    Raises:
        AiortcMismatchError: the installed aioice keeps its gathering state elsewhere.
    """
    missing = [name for name in _STATE if not hasattr(connection, name)]
    if missing:
        raise AiortcMismatchError(f"aioice Connection lacks {', '.join(missing)}")
    if connection._local_candidates_start:
        return connection.local_candidates
    connection._local_candidates_start = True
    if addresses is None:
        # RFC 9429 §3.5.3 (as aioice applies it): the relay policy gathers no host or
        # server-reflexive candidates.
        addresses = []
        if connection._transport_policy == TransportPolicy.ALL:
            addresses = get_host_addresses(
                use_ipv4=connection._use_ipv4, use_ipv6=connection._use_ipv6
            )
    found = await asyncio.gather(
        *(
            connection.get_component_candidates(
                component=component,
                addresses=addresses,
                timeout=timeout,  # type: ignore[arg-type]  # annotated int, used by asyncio.wait
            )
            for component in sorted(connection._components)
        )
    )
    for candidates in found:
        connection._local_candidates += candidates
    connection._local_candidates_end = True
    return connection.local_candidates
