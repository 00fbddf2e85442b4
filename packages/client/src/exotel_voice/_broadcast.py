"""Fan one stream of items out to any number of async iterators (none: items are dropped)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectSendStream

__all__ = ["Broadcast"]

T = TypeVar("T")


class Broadcast(Generic[T]):
    """Each ``subscribe()`` iterator sees every item published after it started."""

    def __init__(self) -> None:
        self._subscribers: list[MemoryObjectSendStream[T]] = []
        self._closed = False

    def publish(self, item: T) -> None:
        """Hand ``item`` to every current subscriber (never blocks)."""
        for send in list(self._subscribers):
            try:
                send.send_nowait(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._subscribers.remove(send)

    async def subscribe(self) -> AsyncIterator[T]:
        """Items from now on, until ``close()``."""
        if self._closed:
            return
        send, receive = anyio.create_memory_object_stream[T](math.inf)
        self._subscribers.append(send)
        try:
            async with receive:
                async for item in receive:
                    yield item
        finally:
            if send in self._subscribers:
                self._subscribers.remove(send)
            send.close()

    def close(self) -> None:
        """End every subscription."""
        self._closed = True
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()
