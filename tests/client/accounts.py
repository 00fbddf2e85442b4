"""Accounts on the suite's Kamailio for client tests."""

from __future__ import annotations

from exotel_voice import Account, TlsOptions
from tests.kamailio.server import KamailioServer


def account(
    kamailio: KamailioServer, user: str, *, transport: str = "wss", **options: object
) -> Account:
    server = kamailio.wss_url if transport == "wss" else kamailio.ws_url
    return Account(
        user=user,
        password=kamailio.users[user],
        domain=kamailio.domain,
        server=server,
        tls=TlsOptions(ca_file=str(kamailio.ca_file)),
        **options,  # type: ignore[arg-type]
    )
