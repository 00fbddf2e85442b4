"""The lock that keeps one connection's writes whole: free while nobody waits for it.

A transport's writes must not interleave (a WebSocket frame, a SIP message on a
stream): the driver sends from one task at a time, but the transport itself answers the
peer's pings from the reading task. ``anyio.Lock`` does the job, yet keeps a waiter
deque (760 bytes) for its whole life, and a phone holds one per connection while
contention is rare. This one is two fields: an Event is made only when a second writer
has to wait.
"""

from __future__ import annotations

from types import TracebackType

import anyio

__all__ = ["SendLock"]


class SendLock:
    """``async with lock:`` around a write. Not reentrant; waiters are not queued in order.

    The uncontended path takes the lock without a checkpoint (like ``anyio.Lock(
    fast_acquire=True)``): the write inside is one.
    """

    __slots__ = ("_held", "_released")

    def __init__(self) -> None:
        self._held = False
        self._released: anyio.Event | None = None

    async def __aenter__(self) -> None:
        while self._held:
            released = self._released
            if released is None:
                released = self._released = anyio.Event()
            await released.wait()
        self._held = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._held = False
        released, self._released = self._released, None
        if released is not None:
            released.set()  # every waiter tries again; the first one to run takes it

    def locked(self) -> bool:
        """Whether a write is under way."""
        return self._held
