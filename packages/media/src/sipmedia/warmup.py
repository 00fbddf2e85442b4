"""Pay once, before the first call, for what the first answer would otherwise pay.

aiortc makes a DTLS certificate for every peer connection (RFC 8827 §6.5: one per
connection is allowed, and it is what aiortc does). The first one in a process also
loads cryptography's OpenSSL bindings: ~20 ms here, more where bytecode is not cached,
all of it added to the first 200 OK. A phone calls ``warm_up`` while it starts (off
the event loop), so its first answer costs what every later one does.
"""

from __future__ import annotations

import functools

from aiortc import RTCCertificate

__all__ = ["warm_up"]


@functools.cache
def warm_up() -> None:
    """Make (and drop) one DTLS certificate, once per process (blocking, ~20 ms).

    Two threads calling at once may both make one: harmless, and cheaper than a lock.
    """
    RTCCertificate.generateCertificate()
