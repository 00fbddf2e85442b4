"""Phones for the integration tests: a sipcore UserAgent driven over a real transport."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import anyio

from sipadapters import AnyEvent, ReconnectPolicy, TlsOptions, UserAgentDriver, open_transport
from sipcore.config import UserAgentConfig
from sipcore.user_agent import UserAgent
from tests.kamailio.server import KamailioServer

E = TypeVar("E")


def server_url(kamailio: KamailioServer, transport: str) -> str:
    return {
        "ws": kamailio.ws_url,
        "wss": kamailio.wss_url,
        "tcp": f"tcp://127.0.0.1:{kamailio.tcp_port}",
        "udp": f"udp://127.0.0.1:{kamailio.udp_port}",
    }[transport]


@contextlib.asynccontextmanager
async def phone(
    kamailio: KamailioServer,
    user: str,
    *,
    transport: str = "ws",
    password: str | None = None,
    reconnect: ReconnectPolicy | None = None,
    keepalive_interval: float | None = 30.0,
    **options: object,
) -> AsyncIterator[UserAgentDriver]:
    """A driven UA for ``user`` on the suite's Kamailio (not registered yet)."""
    config = UserAgentConfig.for_account(
        kamailio.aor(user),
        kamailio.users[user] if password is None else password,
        transport=transport,
        **options,
    )
    ua = UserAgent(config)
    url = server_url(kamailio, transport)
    tls = TlsOptions(ca_file=str(kamailio.ca_file))

    async def connect() -> object:
        return await open_transport(url, tls=tls, timeout=5.0)

    driver = UserAgentDriver(
        ua,
        connect,  # type: ignore[arg-type]
        url=url,
        reconnect=reconnect or ReconnectPolicy(initial=0.2, maximum=1.0),
        keepalive_interval=keepalive_interval,
    )
    async with driver:
        yield driver


async def wait_for(
    driver: UserAgentDriver,
    kind: type[E],
    *,
    timeout: float = 5.0,
    where: Callable[[E], bool] = lambda _: True,
    seen: list[AnyEvent] | None = None,
) -> E:
    """The next event of ``kind`` (others are collected into ``seen``)."""
    with anyio.fail_after(timeout):
        while True:
            event = await driver.next_event()
            if seen is not None:
                seen.append(event)
            if isinstance(event, kind) and where(event):
                return event
