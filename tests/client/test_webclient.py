"""The guide's ExotelWebClient, used from a plain synchronous script, through Kamailio."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from exotel_voice import (
    Call,
    CallStateError,
    ConfigurationError,
    DtmfReceived,
    EndCause,
    Ended,
    ExotelWebClient,
    Phone,
    Tone,
    WebCall,
)
from exotel_voice.webclient import NotInitialized, account_from_sip_account_info
from sipmedia import rms_dbfs, tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]

T = TypeVar("T")

CALL_SID = "b4b0cd28e6e1a8b9e1f3c0d2a1f5e7c9"
LEG_SID = "leg-7f3a91"


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


def muted(call: WebCall) -> bool:
    """Read afresh each time (a property read twice is not narrowed by the checker)."""
    return call.call.muted


def held(call: WebCall) -> bool:
    return call.call.on_hold


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
    """An async Phone in its own thread that calls the facade's user.

    It sends a 1500 Hz tone, keeps its call (``call``, read from any thread), can be
    asked to hang up (``hang_up``) and records how the call ended (``ended_how``).
    """

    def __init__(
        self, kamailio: KamailioServer, user: str, headers: dict[str, str] | None = None
    ) -> None:
        self.kamailio = kamailio
        self.user = user
        self.headers = headers
        self.digits: list[str] = []
        self.ended = threading.Event()
        self.registered = threading.Event()
        self.go = threading.Event()
        self.hang_up = threading.Event()
        self.target = ""
        self.call: Call | None = None
        self.ended_how: Ended | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self, target: str) -> None:
        """Register, then call ``target``."""
        self.target = target
        self.thread.start()
        assert self.registered.wait(8)
        self.go.set()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the caller's loop, from the test's thread."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def hears(self, hz: float) -> bool:
        """Whether the last 0.3 s received carry ``hz``."""
        assert self.call is not None
        return tone_ratio(self.run(self.call.recent_audio(0.3)), hz) > 0.8

    def hears_silence(self) -> bool:
        assert self.call is not None
        return rms_dbfs(self.run(self.call.recent_audio(0.3))) < -60

    def frames_received(self) -> int:
        assert self.call is not None and self.call.media is not None
        return int(self.call.media.inbound.frames_received)

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        async with Phone(account(self.kamailio, self.user), source=lambda: Tone(1500)) as phone:
            self.registered.set()
            while not self.go.is_set():
                await asyncio.sleep(0.02)
            call = await phone.call(self.target, headers=self.headers)
            self.call = call

            async def hang_up_when_asked() -> None:
                while not self.hang_up.is_set():
                    await asyncio.sleep(0.02)
                await call.hangup()

            hanging = asyncio.ensure_future(hang_up_when_asked())
            async for event in call.events():
                if isinstance(event, DtmfReceived):
                    self.digits.append(event.digit)
                elif isinstance(event, Ended):
                    self.ended_how = event
            hanging.cancel()
            self.ended_how = self.ended_how or call.details.ended
            self.ended.set()


def test_guide_flow_register_incoming_answer_controls_dtmf_hangup_unregister(
    kamailio: KamailioServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the app shows everything: still no secret
    rec = Recorder()
    client = ExotelWebClient()
    try:
        info = sip_account_info(kamailio, "alice", audioSource="tone:600")
        assert client.initWebrtc(info, rec.on_register, rec.on_call, None)
        with pytest.raises(CallStateError, match="no active call"):
            client.getCall().Answer()
        assert client.DoRegister() is True
        assert client.DoRegister() is False  # no double registration
        wait_until(lambda: ("registered", "alice") in rec.register)
        assert [s for s, _ in rec.register][:3] == ["sent_request", "sent_request", "registered"]
        statuses: list[str] = []
        client.checkClientStatus(statuses.append)
        assert statuses[-1] == "registered"

        # 5.4: the INVITE's Exotel headers become the call's details.
        caller = Caller(kamailio, "bob", headers={"X-Exotel-Callsid": CALL_SID, "LegSid": LEG_SID})
        before = datetime.datetime.now(datetime.UTC)
        caller.start(kamailio.aor("alice"))
        wait_until(lambda: ("incoming", "alice") in rec.calls)
        offered = rec.last_call
        assert offered is not None
        call = client.getCall()
        assert call.callId == offered.callId
        assert (call.callDirection, call.callState) == ("incoming", "incoming")
        assert call.remoteDisplayName
        started = datetime.datetime.fromisoformat(call.callStartTime)
        assert started.utcoffset() == datetime.timedelta(0)
        assert (
            before - datetime.timedelta(seconds=1) <= started <= datetime.datetime.now(datetime.UTC)
        )
        details = call.callDetails()
        assert details["callId"] == call.callId
        assert (details["callSid"], details["legSid"]) == (CALL_SID, LEG_SID)
        assert details["sipHeaders"]["X-Exotel-Callsid"] == CALL_SID
        assert details["sipHeaders"]["LegSid"] == LEG_SID
        assert details["sipHeaders"]["Call-ID"] == call.callId
        assert details["callState"] == "incoming"

        call.Answer()
        wait_until(lambda: ("connected", "alice") in rec.calls)
        assert call.callState == "connected"
        assert offered.callState == "connected"  # the callback's object follows the call
        assert call.call.media is not None and call.call.media.codec == "opus"  # default
        assert caller.call is not None
        wait_until(lambda: caller.hears(600))

        # 5.7: mute belongs to the call; the far end hears silence, then us again.
        call.Mute()
        assert muted(call)
        wait_until(caller.hears_silence)
        call.MuteToggle()
        assert not muted(call)
        wait_until(lambda: caller.hears(600))
        call.MuteToggle()
        assert muted(call)
        call.UnMute()
        assert not muted(call)
        wait_until(lambda: caller.hears(600))

        # 5.8: Hold twice stays held, UnHold resumes, HoldToggle flips.
        far = caller.call
        assert far is not None
        call.Hold()
        assert held(call) and not muted(call)
        wait_until(lambda: far.remote_on_hold)
        call.Hold()  # idempotent
        assert held(call)
        frames = caller.frames_received()
        time.sleep(0.6)
        assert far.remote_on_hold and caller.frames_received() == frames  # nothing sent
        call.UnHold()
        assert not held(call)
        wait_until(lambda: not far.remote_on_hold)
        wait_until(lambda: caller.hears(600))
        call.HoldToggle()
        assert held(call)
        wait_until(lambda: far.remote_on_hold)
        call.HoldToggle()
        assert not held(call)
        wait_until(lambda: not far.remote_on_hold)
        wait_until(lambda: caller.hears(600))

        with pytest.raises(ValueError, match="DTMF"):
            call.sendDTMF("x")
        call.sendDTMF("5")
        call.sendDTMF("#")
        wait_until(lambda: caller.digits == ["5", "#"])
        call.Hangup()
        wait_until(lambda: ("callEnded", "alice") in rec.calls)
        assert ("terminated", "alice") not in rec.calls  # we hung up: not "terminated"
        assert offered.callState == "ended"
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
    secret = kamailio.users["alice"]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # debug was on
    leaked = [r for r in caplog.records if secret in r.getMessage()]
    assert leaked == []


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
        caller.start(kamailio.aor("frank"))
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


def test_hangup_before_answer_rejects_with_486_busy(kamailio: KamailioServer) -> None:
    # Guide 5.6: Hangup() on the ringing call rejects it; the JS SDK sends 486 Busy.
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(kamailio, "carol"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "carol") in rec.register)
        caller = Caller(kamailio, "dave")
        caller.start(kamailio.aor("carol"))
        wait_until(lambda: ("incoming", "carol") in rec.calls)
        offered = rec.last_call
        assert offered is not None
        client.getCall().Hangup()
        assert caller.ended.wait(8)
        assert caller.ended_how is not None
        assert (caller.ended_how.cause, caller.ended_how.status_code) == (
            EndCause.REMOTE_REJECT,
            486,
        )
        wait_until(lambda: ("callEnded", "carol") in rec.calls)
        assert [e for e, _ in rec.calls] == ["incoming", "callEnded"]  # never "connected"
        assert offered.callState == "ended"
        assert offered.callDetails()["callEndReason"] == EndCause.LOCAL_REJECT.value
    finally:
        client.close()


def test_remote_hangup_is_reported_as_terminated(kamailio: KamailioServer) -> None:
    # Guide 5.6: "For call hangup by remote user, the event comes as 'terminated'."
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(kamailio, "erin"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "erin") in rec.register)
        caller = Caller(kamailio, "frank")
        caller.start(kamailio.aor("erin"))
        wait_until(lambda: ("incoming", "erin") in rec.calls)
        client.getCall().Answer()
        wait_until(lambda: ("connected", "erin") in rec.calls)
        caller.hang_up.set()  # the far end sends BYE
        wait_until(lambda: ("terminated", "erin") in rec.calls)
        assert [e for e, _ in rec.calls] == ["incoming", "connected", "terminated"]
        assert rec.last_call is not None and rec.last_call.callState == "ended"
        assert rec.last_call.callDetails()["callEndReason"] == EndCause.REMOTE_HANGUP.value
        with pytest.raises(CallStateError, match="no active call"):
            client.getCall().Hangup()
        assert caller.ended.wait(8)
    finally:
        client.close()
