"""Awaiting a future another thread completes, from asyncio or from trio.

The media loop (``sipmedia.loop``) answers trio programs through these, and a
``PcmWriter`` read on the media loop wakes a writer waiting on any loop through them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from typing import TypeVar

__all__ = ["running_asyncio_loop", "wait_future"]

T = TypeVar("T")


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread, or None (trio, or no loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _wait_on_trio(future: concurrent.futures.Future[T]) -> T:
    # trio is optional: only trio programs get here, and they have it.
    import trio  # noqa: PLC0415

    token = trio.lowlevel.current_trio_token()
    done = trio.Event()

    def wake(_: concurrent.futures.Future[T]) -> None:
        # On the completing thread (or at once, if already done): wake the trio task
        # without blocking that thread.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(done.set)

    future.add_done_callback(wake)
    try:
        await done.wait()
    finally:
        if not future.done():
            future.cancel()  # cancelled from trio: cancel the other side too
    return future.result()


async def wait_future(future: concurrent.futures.Future[T]) -> T:
    """Await ``future``, completed on any thread, from asyncio or trio.

    Cancelling the waiter cancels ``future``.

    Returns:
        Its result.

    Raises:
        Whatever ``future`` raises; ``concurrent.futures.CancelledError`` if it was
        cancelled elsewhere.
    """
    if running_asyncio_loop() is not None:
        return await asyncio.wrap_future(future)
    return await _wait_on_trio(future)
