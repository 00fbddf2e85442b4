"""The network diagnostic: which ICE candidates can this machine gather, within a bound?

``probe_ice`` gathers candidates the way a call would (aioice, the ICE agent under
aiortc, with the same ``IceServer`` settings ``MediaSession`` takes) and sorts the
candidate lines under the guide's keys (``udp``, ``tcp``, ``host``, ``srflx``, plus
``ipv6`` and ``relay``), each ``connected`` with its candidate lines or ``disconnected``.

What aioice does and does not do (aioice 0.10+, as used by aiortc):

- Host candidates come from every interface address except ``127.0.0.1`` and ``::1``
  (and IPv6 link-local): a machine with only a loopback interface gathers none.
- Server-reflexive candidates are asked of a STUN server over UDP from each IPv4 host
  candidate; one whose mapped address equals the host address (no NAT, e.g. a STUN
  server on this machine) is still reported, unlike browsers, which drop it as redundant.
- Relayed candidates come from a TURN server over UDP, TCP or TLS (``turn:...?transport=tcp``,
  ``turns:``); the relayed address itself is always UDP, so TURN over TCP shows up under
  ``udp``/``relay``, not ``tcp``.
- **No ICE-TCP** (RFC 6544): aioice never gathers TCP candidates, so ``tcp`` is always
  ``disconnected`` here. Browsers report ``tcp`` host candidates, and that is what the
  JavaScript SDK's ``tcp`` line shows.
- aiortc uses only the first STUN and the first TURN server it is given; the probe asks
  every server given, one ICE agent per server, so a diagnostic can name the one that
  does not answer (``unanswered``).

Every server gets the same bound (``timeout``, through ``sipmedia.gathering``, as calls
do); the probe as a whole never takes much longer than it, whatever the servers do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aioice import Candidate, Connection
from aioice.ice import get_host_addresses
from aiortc import RTCIceServer
from aiortc.rtcicetransport import connection_kwargs

from sipmedia.gathering import gather_candidates
from sipmedia.session import IceServer

__all__ = ["PROBE_KEYS", "CandidateCheck", "IceProbeReport", "probe_ice", "classify_candidate"]

logger = logging.getLogger(__name__)

PROBE_KEYS = ("udp", "tcp", "ipv6", "host", "srflx", "relay")
"""The keys a probe reports, in the order the guide's diagnostics callback gets them."""

CONNECTED = "connected"
DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class CandidateCheck:
    """One key of the network diagnostic."""

    key: str
    """One of ``PROBE_KEYS``."""
    candidates: tuple[str, ...]
    """The candidate lines (``candidate:...``, as a browser gives them) under this key."""

    @property
    def connected(self) -> bool:
        """Whether any candidate was gathered under this key."""
        return bool(self.candidates)

    @property
    def status(self) -> str:
        """``"connected"`` or ``"disconnected"``, the guide's status strings."""
        return CONNECTED if self.candidates else DISCONNECTED

    @property
    def description(self) -> str:
        """The first candidate line, or ``""`` (the guide's description)."""
        return self.candidates[0] if self.candidates else ""


@dataclass(frozen=True, slots=True)
class IceProbeReport:
    """What ``probe_ice`` gathered."""

    candidates: tuple[str, ...]
    """Every candidate line, host candidates first."""
    unanswered: tuple[str, ...]
    """The URLs of the servers that gave no candidate within the bound."""
    unsupported: tuple[str, ...]
    """The URLs aiortc/aioice cannot use (e.g. ``turn:...?transport=sctp``)."""
    elapsed: float
    """Seconds the probe took."""

    def check(self, key: str) -> CandidateCheck:
        """The result for one of ``PROBE_KEYS``.

        Raises:
            KeyError: ``key`` is not one of ``PROBE_KEYS``.
        """
        if key not in PROBE_KEYS:
            raise KeyError(key)
        return CandidateCheck(
            key, tuple(line for line in self.candidates if key in classify_candidate(line))
        )

    def checks(self) -> tuple[CandidateCheck, ...]:
        """The results for all ``PROBE_KEYS``, in their order."""
        return tuple(self.check(key) for key in PROBE_KEYS)


def classify_candidate(line: str) -> frozenset[str]:
    """The ``PROBE_KEYS`` a candidate line counts under.

    Same fields as the JavaScript SDK reads (``[2]`` transport, ``[4]`` address, ``[7]``
    type), without its false IPv6 positives (an mDNS ``.local`` name is not IPv6).

    Args:
        line: ``candidate:<foundation> <component> <transport> <priority> <address>
            <port> typ <type> ...``.

    Returns:
        The keys, empty for a line that is not a candidate.
    """
    fields = line.split()
    if len(fields) < 8 or fields[6] != "typ":
        return frozenset()
    keys = set()
    transport, address, kind = fields[2].lower(), fields[4], fields[7]
    if transport in ("udp", "tcp"):
        keys.add(transport)
    try:
        if ipaddress.ip_address(address).version == 6:
            keys.add("ipv6")
    except ValueError:
        pass
    if kind in ("host", "srflx", "relay"):
        keys.add(kind)
    return frozenset(keys)


def _line(candidate: Candidate) -> str:
    return f"candidate:{candidate.to_sdp()}"


async def _gather(kwargs: dict[str, Any], addresses: list[str], timeout: float) -> list[Candidate]:
    connection = Connection(ice_controlling=True, **kwargs)
    try:
        return await gather_candidates(connection, timeout, addresses)
    finally:
        await connection.close()


async def probe_ice(
    servers: Sequence[IceServer] = (),
    timeout: float = 2.0,
    *,
    use_ipv6: bool = True,
) -> IceProbeReport:
    """Gather ICE candidates against ``servers`` and sort them for the diagnostic.

    Args:
        servers: STUN/TURN servers (``IceServer("stun:host:port")``,
            ``IceServer("turn:host:port?transport=udp", username, credential)``).
        timeout: the bound for each server, seconds (they are asked in parallel).
        use_ipv6: gather IPv6 host candidates too.

    Returns:
        The ``IceProbeReport``; an unreachable server just yields nothing.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    addresses = get_host_addresses(use_ipv4=True, use_ipv6=use_ipv6)
    configured: list[tuple[str, dict[str, Any]]] = []
    unsupported: list[str] = []
    for server in servers:
        try:
            kwargs = connection_kwargs(
                [
                    RTCIceServer(
                        urls=server.urls, username=server.username, credential=server.credential
                    )
                ]
            )
        except ValueError:
            kwargs = {}
        if not kwargs:
            unsupported.append(server.urls)
            continue
        configured.append((server.urls, kwargs))
    tasks = [asyncio.ensure_future(_gather({}, addresses, timeout))] + [
        asyncio.ensure_future(_gather(k, addresses, timeout)) for _, k in configured
    ]
    try:
        _, pending = await asyncio.wait(tasks, timeout=timeout + 1.0)
    finally:
        # Whether we finished, overran or were cancelled: stop what still runs and collect
        # every outcome, so no task's exception is left "never retrieved".
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if pending:
        logger.warning("ICE probe overran its %.1f s bound", timeout)
    results: list[list[Candidate] | BaseException] = [
        TimeoutError() if task.cancelled() else (task.exception() or task.result())
        for task in tasks
    ]
    lines: list[str] = []
    host, *per_server = results
    if isinstance(host, BaseException):
        logger.warning("gathering host candidates failed: %s", host)
    else:
        lines += [_line(c) for c in host]
    unanswered: list[str] = []
    for (url, _), found in zip(configured, per_server, strict=True):
        extra = [] if isinstance(found, BaseException) else [c for c in found if c.type != "host"]
        if not extra:
            unanswered.append(url)
            logger.info("ICE server %s gave no candidate within %.1f s", url, timeout)
        lines += [_line(c) for c in extra]
    return IceProbeReport(
        candidates=tuple(lines),
        unanswered=tuple(unanswered),
        unsupported=tuple(unsupported),
        elapsed=loop.time() - start,
    )
