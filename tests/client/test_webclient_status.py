"""Guide 5.13 (checkClientStatus), 5.12 (retries, ``unregister``): every status the
client can report, each reached for real."""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from exotel_voice import ExotelWebClient
from exotel_voice.webclient import CLIENT_STATUSES
from sipadapters import ReconnectPolicy
from tests.client.test_webclient import Recorder, sip_account_info, wait_until
from tests.kamailio.plugin import KamailioFactory

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def status(client: ExotelWebClient) -> str:
    got: list[str] = []
    client.checkClientStatus(got.append)
    assert len(got) == 1 and got[0] in CLIENT_STATUSES
    return got[0]


def ws_account_info(port: int) -> dict[str, Any]:
    return {
        "userName": "alice",
        "sipdomain": "example.test",
        "domain": f"127.0.0.1:{port}",
        "secret": "hunter2",
        "port": str(port),
        "security": "ws",
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SilentRegistrar:
    """Accepts the WebSocket (RFC 6455 handshake, subprotocol ``sip``) and then never
    answers: the client's REGISTER stays in progress."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.frames = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.connections.append(conn)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.decode().split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                "Sec-WebSocket-Protocol: sip\r\n\r\n"
            ).encode()
        )
        while conn.recv(4096):
            self.frames.set()  # the REGISTER (masked); never answered

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_registrar() -> Iterator[SilentRegistrar]:
    server = SilentRegistrar()
    try:
        yield server
    finally:
        server.close()


def test_not_initialized_then_unregistered_then_connecting_then_connection_failed() -> None:
    # A server that accepts TCP (the kernel's backlog) but never the WebSocket: the
    # client is "connecting" until the connection fails.
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    rec = Recorder()
    client = ExotelWebClient()
    try:
        assert status(client) == "not_initialized"
        client.initWebrtc(ws_account_info(port), rec.on_register, rec.on_call)
        assert status(client) == "unregistered"  # ready; no registration in progress
        client.DoRegister()
        assert status(client) == "connecting"
        time.sleep(0.5)
        assert status(client) == "connecting"
        listener.close()  # the pending connection is reset
        wait_until(lambda: status(client) == "websocket_connection_failed")
        assert ("unregistered", "alice") in rec.register
        client.unregister()  # the guide's 5.12 name
        assert status(client) == "unregistered"
    finally:
        listener.close()
        client.close()


def test_initial_while_the_registration_is_in_progress(silent_registrar: SilentRegistrar) -> None:
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(ws_account_info(silent_registrar.port), rec.on_register, rec.on_call)
        client.DoRegister()
        assert silent_registrar.frames.wait(5)
        wait_until(lambda: ("sent_request", "alice") in rec.register)
        assert status(client) == "initial"  # the guide: "sdk registration is in progress"
        started = time.monotonic()
        client.UnRegister()  # gives up now, not after the REGISTER's 15 s timeout
        assert time.monotonic() - started < 10  # (the phone's close grace: 3 s)
        assert status(client) == "unregistered"
    finally:
        client.close()


@pytest.mark.kamailio
def test_registered_then_disconnected_when_the_server_closes_the_websocket(
    fresh_kamailio: KamailioFactory,
) -> None:
    kamailio = fresh_kamailio()
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(kamailio, "alice"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "alice") in rec.register)
        assert status(client) == "registered"
        assert len(kamailio.ws_connections()) == 1
        kamailio.kill()  # the WebSocket is gone and stays gone
        wait_until(lambda: status(client) == "disconnected")
        time.sleep(1.0)  # retrying against a dead server: still disconnected
        assert status(client) == "disconnected"
        kamailio.start()
        wait_until(lambda: status(client) == "registered", timeout=20)
    finally:
        client.close()


@pytest.mark.kamailio
def test_a_server_side_websocket_close_reports_disconnected_until_reconnected(
    fresh_kamailio: KamailioFactory,
) -> None:
    kamailio = fresh_kamailio()
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(kamailio, "alice"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "alice") in rec.register)
        assert status(client) == "registered"
        (connection,) = kamailio.ws_connections()
        kamailio.close_ws(int(connection["src_port"]))
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = status(client)
            if not seen or seen[-1] != now:
                seen.append(now)
            if now == "registered" and len(seen) > 1:
                break
            time.sleep(0.005)
        # Reconnection waits at least 0.25 s (ReconnectPolicy), so "disconnected" shows.
        assert "disconnected" in seen and seen[-1] == "registered"
        assert set(seen) <= {"registered", "disconnected", "initial"}
    finally:
        client.close()


def test_unknown_when_the_check_itself_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The designed path: checkClientStatus lists the audio devices first; if that
    # fails (PortAudio broken), the answer is "unknown", not an exception.
    from exotel_voice.webclient import devices  # noqa: PLC0415

    def broken(config: object) -> str | None:
        raise OSError("PortAudio is not initialised")

    monkeypatch.setattr(devices, "missing_audio_device", broken)
    client = ExotelWebClient()
    try:
        assert status(client) == "unknown"
    finally:
        client.close()


def test_unregister_is_an_alias_of_unregister_for_the_guides_snippet(
    fresh_kamailio: KamailioFactory,
) -> None:
    kamailio = fresh_kamailio()
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(kamailio, "bob"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "bob") in rec.register)
        assert kamailio.contacts("bob")
        client.unregister()
        wait_until(lambda: rec.register[-1][0] == "unregistered")
        assert kamailio.contacts("bob") == []
        assert status(client) == "unregistered"
        assert client.DoRegister() is True  # the manual retry of 5.12 works after it
        wait_until(lambda: rec.register.count(("registered", "bob")) == 2)
    finally:
        client.close()


def retries(client: ExotelWebClient, count: int) -> list[tuple[float, float]]:
    """(seconds since DoRegister, announced delay) of the first ``count`` retries."""
    got: list[tuple[float, float]] = []
    started = time.monotonic()

    def on_log(kind: str, message: str, args: list[object]) -> None:
        if kind == "warn" and "cannot connect" in message:
            got.append((time.monotonic() - started, float(message.rsplit(" in ", 1)[1][:-2])))

    client.registerLoggerCallback(on_log)
    client.initWebrtc(ws_account_info(closed_port()), lambda s, p: None, lambda c, e, p: None)
    client.DoRegister()
    wait_until(lambda: len(got) >= count, timeout=10)
    client.UnRegister()
    return got[:count]


def test_retry_delays_use_the_injected_jitter() -> None:
    policy = ReconnectPolicy()
    fractions = iter([0.9, 0.1, 0.0])
    client = ExotelWebClient()
    try:
        client._random = lambda: next(fractions)
        got = retries(client, 3)
    finally:
        client.close()
    expected = [policy.delay(1, 0.9), policy.delay(2, 0.1), policy.delay(3, 0.0)]
    assert [d for _, d in got] == pytest.approx(expected, abs=1e-3)
    # ... and really waited that long: each retry comes its delay after the previous one.
    for (before, delay), (after, _) in itertools.pairwise(got):
        assert delay - 0.05 <= after - before <= delay + 0.5


def test_retry_delays_vary_within_the_policys_bounds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    policy = ReconnectPolicy()
    client = ExotelWebClient()
    try:
        got = retries(client, 2)
    finally:
        client.close()
    fractions = []
    for attempt, (_, delay) in enumerate(got, start=1):
        base = policy.delay(attempt, 0.0)
        assert base * (1 - policy.jitter) - 1e-3 <= delay <= base + 1e-3
        fractions.append((1 - delay / base) / policy.jitter)
    # Random fractions: not the fixed 0.5 of old, and not the same twice.
    assert fractions[0] != pytest.approx(fractions[1], abs=1e-3)
    assert not all(f == pytest.approx(0.5, abs=1e-3) for f in fractions)
