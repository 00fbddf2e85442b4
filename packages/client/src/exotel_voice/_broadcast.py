"""Fan one stream of items out to any number of subscribers (none: items are dropped)."""

from __future__ import annotations

import math
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["Broadcast", "Subscription"]

T = TypeVar("T")


class Subscription(Generic[T]):
    """The items published after it was created, as an async iterator, until closed.

    It listens from the moment it is made, not from the first ``__anext__``, so
    ``calls = phone.incoming()`` followed by placing a call cannot miss that call.
    """

    def __init__(self, owner: Broadcast[T]) -> None:
        self._owner = owner
        self._send: MemoryObjectSendStream[T]
        self._receive: MemoryObjectReceiveStream[T]
        self._send, self._receive = anyio.create_memory_object_stream[T](math.inf)
        if owner.closed:
            self._send.close()
        else:
            owner._subscribers.append(self._send)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.close()
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._send in self._owner._subscribers:
            self._owner._subscribers.remove(self._send)
        self._send.close()
        self._receive.close()

    async def aclose(self) -> None:
        """``close`` for ``contextlib.aclosing`` and async generator-like use."""
        self.close()


class Broadcast(Generic[T]):
    """Each ``subscribe()`` sees every item published after it was called."""

    def __init__(self) -> None:
        self._subscribers: list[MemoryObjectSendStream[T]] = []
        self.closed = False

    def publish(self, item: T) -> None:
        """Hand ``item`` to every current subscriber (never blocks)."""
        for send in list(self._subscribers):
            try:
                send.send_nowait(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._subscribers.remove(send)

    def subscribe(self) -> Subscription[T]:
        """A subscription starting now."""
        return Subscription(self)

    def close(self) -> None:
        """End every subscription (after the items already published)."""
        self.closed = True
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()
