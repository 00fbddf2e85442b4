"""An asyncio event loop in a daemon thread: how the synchronous facade runs the async SDK."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """Owns one event loop running forever in a daemon thread until ``stop()``."""

    def __init__(self, name: str = "exotel-voice") -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (running in the thread)."""
        assert self._loop is not None
        return self._loop

    @property
    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread (a callback)."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; returns a future the caller may wait on."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (not from the loop thread).

        Raises:
            RuntimeError: called from the loop thread (it would deadlock).
        """
        if self.in_loop_thread:
            coro.close()
            raise RuntimeError("cannot wait for the SDK's loop from inside one of its callbacks")
        return self.submit(coro).result(timeout)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the loop thread soon."""
        self.loop.call_soon_threadsafe(fn)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (cancelling what still runs) and join the thread."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
