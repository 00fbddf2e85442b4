"""trio entry points: a driven user agent the way trio code expects to hold one.

The driver is the same anyio code on both backends; this module only gives it trio's
shapes and refuses, clearly, to run anywhere else::

    import trio
    from sipadapters.trio import open_user_agent, serve_user_agent

    async def main() -> None:
        async with open_user_agent(url, config, register=True) as driver:
            async for event in driver.events():
                ...

    async def main_in_a_nursery() -> None:
        async with trio.open_nursery() as nursery:
            driver = await nursery.start(serve_user_agent, url, config)
            ...
            nursery.cancel_scope.cancel()  # hangs up and unregisters, then closes

Needs the ``trio`` extra (``pip install sipadapters[trio]``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import trio
import trio.lowlevel

from sipadapters import connect
from sipadapters.driver import KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, UserAgentDriver
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.tls import TlsOptions
from sipcore.config import UserAgentConfig
from sipcore.ids import IdFactory

__all__ = ["open_user_agent", "serve_user_agent"]


def _require_trio(what: str) -> None:
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        raise RuntimeError(
            f"sipadapters.trio.{what} runs under trio only; "
            "use sipadapters.open_user_agent on other anyio backends (asyncio)"
        ) from None


@contextlib.asynccontextmanager
async def open_user_agent(
    url: str,
    config: UserAgentConfig,
    *,
    tls: TlsOptions | None = None,
    timeout: float = 10.0,
    reconnect: ReconnectPolicy | None = None,
    keepalive_interval: float | None = KEEPALIVE_INTERVAL,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    ids: IdFactory | None = None,
    register: bool = False,
    random: Callable[[], float] | None = None,
) -> AsyncIterator[UserAgentDriver]:
    """Connect to ``url`` as ``config`` and drive the user agent until the block ends.

    The same as ``sipadapters.open_user_agent`` (see it for every argument), checked
    to run under trio. Leaving the block, even by cancellation, hangs up every call and
    unregisters (for at most 3 s) before the connection closes.

    Raises:
        RuntimeError: not running under trio.
        ConnectError: the first connection failed.
    """
    _require_trio("open_user_agent")
    async with connect.open_user_agent(
        url,
        config,
        tls=tls,
        timeout=timeout,
        reconnect=reconnect,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        ids=ids,
        register=register,
        random=random,
    ) as driver:
        yield driver


async def serve_user_agent(
    url: str,
    config: UserAgentConfig,
    *,
    tls: TlsOptions | None = None,
    timeout: float = 10.0,
    reconnect: ReconnectPolicy | None = None,
    keepalive_interval: float | None = KEEPALIVE_INTERVAL,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    ids: IdFactory | None = None,
    register: bool = True,
    task_status: trio.TaskStatus[UserAgentDriver] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a user agent until cancelled: ``driver = await nursery.start(serve_user_agent, ...)``.

    ``nursery.start`` returns once connected (and with ``register`` the REGISTER sent),
    handing back the driver; a failed first connection raises there. Cancelling the
    nursery hangs up, unregisters and closes.

    Raises:
        RuntimeError: not running under trio.
        ConnectError: the first connection failed.
    """
    _require_trio("serve_user_agent")
    async with open_user_agent(
        url,
        config,
        tls=tls,
        timeout=timeout,
        reconnect=reconnect,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        ids=ids,
        register=register,
    ) as driver:
        task_status.started(driver)
        await trio.sleep_forever()
