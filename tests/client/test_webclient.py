"""The guide's ExotelWebClient, used from a plain synchronous script, through Kamailio."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exotel_voice import (
    CallStateError,
    ConfigurationError,
    DtmfReceived,
    ExotelWebClient,
    Phone,
    WebCall,
)
from exotel_voice.webclient import NotInitialized, account_from_sip_account_info
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]


def sip_account_info(kamailio: KamailioServer, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "userName": user,
        "authUser": user,
        "sipdomain": kamailio.domain,
        "domain": f"127.0.0.1:{kamailio.wss_port}",
        "displayname": user.title(),
        "secret": kamailio.users[user],
        "port": str(kamailio.wss_port),
        "security": "wss",
        "caFile": str(kamailio.ca_file),
        **extra,
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.register: list[tuple[str, str]] = []
        self.calls: list[tuple[str, str]] = []
        self.last_call: WebCall | None = None

    def on_register(self, state: str, phone: str) -> None:
        self.register.append((state, phone))

    def on_call(self, call: WebCall, event: str, phone: str) -> None:
        self.calls.append((event, phone))
        self.last_call = call


class Caller:
    """An async Phone in its own thread that calls the facade's user."""

    def __init__(self, kamailio: KamailioServer, user: str) -> None:
        self.kamailio = kamailio
        self.user = user
        self.digits: list[str] = []
        self.ended = threading.Event()
        self.registered = threading.Event()
        self.go = threading.Event()
        self.target = ""
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async with Phone(account(self.kamailio, self.user)) as phone:
            self.registered.set()
            while not self.go.is_set():
                await asyncio.sleep(0.02)
            call = await phone.call(self.target)
            async for event in call.events():
                if isinstance(event, DtmfReceived):
                    self.digits.append(event.digit)
            self.ended.set()


def test_guide_flow_register_incoming_answer_controls_dtmf_hangup_unregister(
    kamailio: KamailioServer,
) -> None:
    rec = Recorder()
    client = ExotelWebClient()
    try:
        assert client.initWebrtc(
            sip_account_info(kamailio, "alice"), rec.on_register, rec.on_call, None
        )
        statuses: list[str] = []
        client.checkClientStatus(statuses.append)
        assert statuses == ["initial"]
        with pytest.raises(CallStateError, match="no active call"):
            client.getCall().Answer()
        assert client.DoRegister() is True
        assert client.DoRegister() is False  # no double registration
        wait_until(lambda: ("registered", "alice") in rec.register)
        assert [s for s, _ in rec.register][:3] == ["sent_request", "sent_request", "registered"]
        client.checkClientStatus(statuses.append)
        assert statuses[-1] == "registered"

        caller = Caller(kamailio, "bob")
        caller.target = kamailio.aor("alice")
        caller.thread.start()
        assert caller.registered.wait(8)
        caller.go.set()
        wait_until(lambda: ("incoming", "alice") in rec.calls)
        call = client.getCall()
        assert call.callDirection == "incoming"
        assert call.remoteDisplayName
        assert call.callDetails()["callId"] == call.callId
        call.Answer()
        wait_until(lambda: ("connected", "alice") in rec.calls)
        call.Mute()
        call.MuteToggle()
        call.UnMute()
        call.Hold()
        call.Hold()  # idempotent
        call.UnHold()
        call.HoldToggle()
        call.HoldToggle()
        with pytest.raises(ValueError, match="DTMF"):
            call.sendDTMF("x")
        call.sendDTMF("5")
        call.sendDTMF("#")
        wait_until(lambda: caller.digits == ["5", "#"])
        call.Hangup()
        wait_until(lambda: ("callEnded", "alice") in rec.calls)
        assert caller.ended.wait(8)
        with pytest.raises(CallStateError):
            client.getCall().Hangup()
        client.UnRegister()
        wait_until(lambda: rec.register[-1][0] == "unregistered")
        client.checkClientStatus(statuses.append)
        assert statuses[-1] == "unregistered"
        assert kamailio.contacts("alice") == []
    finally:
        client.close()


def test_wrong_password_ends_in_terminated_without_retrying(kamailio: KamailioServer) -> None:
    rec = Recorder()
    client = ExotelWebClient()
    try:
        info = sip_account_info(kamailio, "carol", secret="not-the-password")
        client.initWebrtc(info, rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("terminated", "carol") in rec.register)
        time.sleep(1.0)
        states = [s for s, _ in rec.register]
        assert states.count("sent_request") == 2
        assert states[-1] == "terminated"
        statuses: list[str] = []
        client.checkClientStatus(statuses.append)
        assert statuses == ["terminated"]
    finally:
        client.close()


def test_missing_or_malformed_fields_are_named_and_the_secret_is_not_shown() -> None:
    base = {
        "userName": "alice",
        "sipdomain": "example.com",
        "domain": "voip.example.com:443",
        "secret": "hunter2",
        "port": "443",
    }
    for key in ("userName", "sipdomain", "domain", "secret", "port"):
        broken = {k: v for k, v in base.items() if k != key}
        with pytest.raises(ConfigurationError, match=key) as info:
            account_from_sip_account_info(broken)
        assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError, match="security"):
        account_from_sip_account_info({**base, "security": "http"})
    with pytest.raises(ConfigurationError, match="port"):
        account_from_sip_account_info({**base, "port": "eighty"})
    client = ExotelWebClient()
    try:
        with pytest.raises(NotInitialized):
            client.DoRegister()
        with pytest.raises(TypeError):
            client.initWebrtc(base, "not callable", print)  # type: ignore[arg-type]
    finally:
        client.close()


def test_websocket_url_is_built_like_the_js_sdk() -> None:
    base = {"userName": "u", "sipdomain": "d.example", "secret": "s", "port": "443"}
    acc = account_from_sip_account_info({**base, "domain": "voip.example.com:443"})
    assert acc.server == "wss://voip.example.com:443/wss"
    acc = account_from_sip_account_info(
        {**base, "domain": "voip.example.com", "security": "ws", "endpoint": "/ws"}
    )
    assert acc.server == "ws://voip.example.com:8088/ws"
    acc = account_from_sip_account_info({**base, "domain": "h:9", "authUser": "aor-user"})
    assert acc.aor == "sip:aor-user@d.example" and acc.auth_user == "u"


def test_session_listener_parent_registers_children_hear_calls_and_take_over(
    kamailio: KamailioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guide 5.10: two instances of one account on this host (two processes in real life;
    # the coordinator works the same within one). The parent registers and handles the
    # call; the child hears incoming/connected/callEnded and gets "re-register" when the
    # parent goes away.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # a private rendezvous for this test
    parent_rec, child_rec = Recorder(), Recorder()
    child_sessions: list[tuple[str, str]] = []
    parent, child = ExotelWebClient(), ExotelWebClient()
    try:
        info = sip_account_info(kamailio, "frank")
        parent.initWebrtc(info, parent_rec.on_register, parent_rec.on_call, lambda s, p: None)
        child.initWebrtc(
            info,
            child_rec.on_register,
            child_rec.on_call,
            lambda s, p: child_sessions.append((s, p)),
        )
        assert parent.SessionListener() is True
        assert child.SessionListener() is False
        parent.DoRegister()
        wait_until(lambda: ("registered", "frank") in parent_rec.register)
        caller = Caller(kamailio, "erin")
        caller.target = kamailio.aor("frank")
        caller.thread.start()
        assert caller.registered.wait(8)
        caller.go.set()
        wait_until(lambda: ("incoming", "frank") in child_sessions)
        parent.getCall().Answer()
        wait_until(lambda: ("connected", "frank") in child_sessions)
        parent.getCall().Hangup()
        wait_until(lambda: ("callEnded", "frank") in child_sessions)
        assert child_rec.register == [] and child_rec.calls == []  # the child never registered
        parent.close()
        wait_until(lambda: ("re-register", "frank") in child_sessions, timeout=2.0)
    finally:
        parent.close()
        child.close()
