"""The suite's Kamailio (``tests/kamailio``) sized for thousands of phones.

A stock ``KamailioSettings`` holds about 750 WebSocket phones (64 MB of shared memory at
~85 KB per WebSocket connection, 4,096 TCP connections, 16,384 files). ``scale_settings``
raises what a run of ``phones`` needs: one subscriber row per phone, TCP connections
for the phones and for SIPp, shared memory for all of them, open files up to our hard
limit (a non-root Kamailio cannot go past it), and a ``min_expires`` low enough for the
short registrations that make refreshes happen within the run.
"""

from __future__ import annotations

import math
import resource

from tests.kamailio.server import KamailioSettings

__all__ = ["phone_users", "scale_settings", "SHM_PER_CONNECTION", "SHM_BASE_MB"]

SHM_PER_CONNECTION = 100 * 1024
"""Bytes of Kamailio shared memory budgeted per connection (measured ~85 KB per ws one)."""
SHM_BASE_MB = 256
"""Shared memory for everything but connections (usrloc, transactions, TLS)."""
_SPARE_FILES = 1024
"""Descriptors Kamailio needs besides one per connection (listeners, workers, db)."""


def phone_users(count: int) -> dict[str, str]:
    """``count`` subscribers: ``phone00000`` .. with passwords ``secret-00000`` ..

    Benchmark accounts on a private loopback server: the passwords are no secret.
    """
    width = max(5, len(str(count - 1)))
    return {f"phone{i:0{width}d}": f"secret-{i:0{width}d}" for i in range(count)}


def scale_settings(
    phones: int, *, expires: int, extra_connections: int = 1024, log_level: int = 1
) -> KamailioSettings:
    """Settings for a Kamailio that registers and holds ``phones`` phones at once.

    Args:
        phones: subscribers to create, and WebSocket connections to hold at once.
        expires: the registration expiry the phones ask for (``min_expires`` is at most
            this, so the registrar grants it and the phones refresh within the run).
        extra_connections: TCP connections beyond one per phone (SIPp, probes).
        log_level: Kamailio's ``debug`` (1: notices only, so logging costs nothing).
    """
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    connections = phones + extra_connections
    wanted_files = connections + _SPARE_FILES
    open_files = wanted_files if hard == resource.RLIM_INFINITY else min(wanted_files, hard)
    return KamailioSettings(
        users=phone_users(phones),
        min_expires=min(10, expires),
        nonce_expire=max(300, 4 * expires),
        shm_mb=SHM_BASE_MB + math.ceil(connections * SHM_PER_CONNECTION / 2**20),
        pkg_mb=16,
        tcp_max_connections=connections,
        tls_max_connections=1024,
        open_files=max(open_files, 4096),
        log_level=log_level,
        start_timeout=60.0,
    )
