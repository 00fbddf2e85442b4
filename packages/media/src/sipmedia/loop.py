"""Where media runs: the caller's asyncio loop, or an asyncio loop thread of our own.

aiortc is asyncio-only. A program on asyncio runs its media in its own loop
(``CallerLoop``). A program on trio (or with no event loop at all, like the guide's
synchronous facade) gets a ``MediaLoop``: one asyncio loop in a daemon thread we own,
with ``run``/``call`` to reach it without blocking the caller's loop. ``media_runner()``
picks the right one. Both close every session they created on ``aclose``.

Everything that touches a ``MediaSession`` (its methods, ``inbound.recent``...) must run
on the media loop: pass it through ``run`` (coroutine functions) or ``call`` (plain
functions). Callbacks registered on a session (``on_dtmf``, ``inbound.on_pcm``) are
called on the media loop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar, TypeVarTuple, Unpack

from sipmedia.session import MediaConfig, MediaSession
from sipmedia.sources import AudioSource
from sipmedia.waiting import running_asyncio_loop, wait_future

__all__ = ["MediaRunner", "CallerLoop", "MediaLoop", "media_runner"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class MediaRunner(Protocol):
    """What the client layer needs from wherever media runs."""

    async def run(self, fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """Await ``fn(*args)`` on the media loop and return its result."""
        ...

    async def call(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
        """Call ``fn(*args)`` on the media loop and return its result."""
        ...

    async def create_session(
        self, config: MediaConfig | None = None, source: AudioSource | None = None
    ) -> MediaSession:
        """A new session living on the media loop, closed by ``aclose``."""
        ...

    async def aclose(self) -> None:
        """Close every session created here and release the loop."""
        ...


async def _close_all(sessions: set[MediaSession]) -> None:
    pending = list(sessions)
    sessions.clear()
    results = await asyncio.gather(*(s.close() for s in pending), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            logger.warning("closing a media session failed: %r", result)


class CallerLoop:
    """Media in the caller's own asyncio loop: ``run`` simply awaits."""

    def __init__(self) -> None:
        self._sessions: set[MediaSession] = set()
        self._closed = False

    async def run(self, fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """Await ``fn(*args)`` here (the caller's loop is the media loop)."""
        return await fn(*args)

    async def call(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
        """Call ``fn(*args)`` here."""
        return fn(*args)

    async def create_session(
        self, config: MediaConfig | None = None, source: AudioSource | None = None
    ) -> MediaSession:
        """A new session on the caller's loop, closed by ``aclose``.

        Raises:
            RuntimeError: this runner was closed.
        """
        if self._closed:
            raise RuntimeError("the media runner is closed")
        session = MediaSession(config, source)
        self._sessions.add(session)
        return session

    async def aclose(self) -> None:
        """Close every session created here."""
        self._closed = True
        await _close_all(self._sessions)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class MediaLoop:
    """An asyncio event loop in a daemon thread of ours, for aiortc under trio.

    Started on construction; ``aclose`` (or ``close`` from synchronous code) closes the
    sessions created through it, cancels what still runs on the loop, shuts down its
    executor and async generators, stops it and joins the thread.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str = "sipmedia-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._sessions: set[MediaSession] = set()
        self._closing = False
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop media runs on."""
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        """The thread running it."""
        return self._thread

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                self._loop.run_until_complete(self._drain())
            finally:
                self._loop.close()
                self._finished.set_result(None)

    async def _drain(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._loop.shutdown_asyncgens()
        await self._loop.shutdown_default_executor()

    def submit(
        self, fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts
    ) -> concurrent.futures.Future[T]:
        """Start ``fn(*args)`` on the media loop from any thread.

        Returns:
            A future for its result (cancel it to cancel the coroutine).

        Raises:
            RuntimeError: the loop is closing or closed.
        """
        if self._closing:
            raise RuntimeError("the media loop is closed")

        async def call() -> T:
            return await fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop)

    async def run(self, fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """Await ``fn(*args)`` on the media loop, from trio or another asyncio loop.

        The caller's loop keeps running meanwhile; cancelling the caller cancels ``fn``.

        Raises:
            RuntimeError: the loop is closed.
        """
        if running_asyncio_loop() is self._loop:
            return await fn(*args)
        return await wait_future(self.submit(fn, *args))

    async def call(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
        """Call ``fn(*args)`` on the media loop's thread and return its result.

        Raises:
            RuntimeError: the loop is closed.
        """

        async def wrapped() -> T:
            return fn(*args)

        return await self.run(wrapped)

    def run_blocking(self, fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """``run`` for synchronous code (never from the media loop itself).

        Raises:
            RuntimeError: called on the media loop's thread, or the loop is closed.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("run_blocking on the media loop would deadlock")
        return self.submit(fn, *args).result()

    async def create_session(
        self, config: MediaConfig | None = None, source: AudioSource | None = None
    ) -> MediaSession:
        """A new session built on the media loop (aiortc binds to the loop it is
        created on), closed by ``aclose``.

        Raises:
            RuntimeError: the loop is closed.
        """

        async def create() -> MediaSession:
            session = MediaSession(config, source)
            self._sessions.add(session)
            return session

        return await self.run(create)

    async def aclose(self) -> None:
        """Close the sessions, stop the loop and join its thread (idempotent).

        Raises:
            RuntimeError: called from the media loop itself.
        """
        if running_asyncio_loop() is self._loop:
            raise RuntimeError("the media loop cannot close itself from inside")
        if not self._closing:
            await self.run(_close_all, self._sessions)
            self._closing = True
            self._loop.call_soon_threadsafe(self._loop.stop)
        await wait_future(self._finished)
        self._thread.join()

    def close(self) -> None:
        """``aclose`` for synchronous code.

        Raises:
            RuntimeError: called on the media loop's thread.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("the media loop cannot close itself from inside")
        if not self._closing:
            self.submit(_close_all, self._sessions).result()
            self._closing = True
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._finished.result()
        self._thread.join()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def media_runner() -> CallerLoop | MediaLoop:
    """Where this program's media should run.

    Returns:
        A ``CallerLoop`` when called on a running asyncio loop (media shares it), else a
        started ``MediaLoop`` (trio, or no loop at all).
    """
    if running_asyncio_loop() is not None:
        return CallerLoop()
    return MediaLoop()
