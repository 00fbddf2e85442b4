"""pytest plugin: the suite's own Kamailio as fixtures.

Register it from the top-level conftest::

    pytest_plugins = ["tests.kamailio.plugin"]

Fixtures:

- ``kamailio`` (session): one ``KamailioServer`` for the whole run, installed
  (as root, from Debian's packages via scripts/install-kamailio.sh) if missing,
  started on free loopback ports, stopped at the end. Tests sharing it should
  use their own users' registrations carefully (unregister or use short expiries)
  and must not kill it.
- ``fresh_kamailio`` (function): a factory ``fresh_kamailio(**settings)`` that
  starts a private ``KamailioServer`` (any ``KamailioSettings`` field, e.g.
  ``min_expires=5``), for tests that kill, restart or reconfigure it; every one
  made is stopped when the test ends.

Kamailio missing and not root -> the test fails (never skips) with what to run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.kamailio.server import KamailioError, KamailioServer, ensure_installed

KamailioFactory = Callable[..., KamailioServer]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kamailio: needs the suite's Kamailio (installed from Debian's packages)"
    )


def _installed() -> None:
    try:
        ensure_installed()
    except KamailioError as error:
        pytest.fail(str(error), pytrace=False)


def _started(server: KamailioServer) -> KamailioServer:
    try:
        server.start()
    except KamailioError as error:
        pytest.fail(f"the suite's Kamailio did not start: {error}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KamailioServer]:
    """The session's Kamailio (do not kill it: use ``fresh_kamailio`` for that)."""
    _installed()
    server = _started(KamailioServer(tmp_path_factory.mktemp("kamailio")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KamailioFactory]:
    """A factory of private Kamailios, each stopped at the end of the test."""
    _installed()
    servers: list[KamailioServer] = []

    def make(**settings: Any) -> KamailioServer:
        server = KamailioServer(tmp_path_factory.mktemp("kamailio-fresh"), **settings)
        servers.append(server)
        return _started(server)

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
