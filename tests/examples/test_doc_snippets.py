"""docs/api.md's code, run: every ``python`` block of the guide is code of this file or of
an example (checked line by line), and this file runs it against the development server.
Every ``exotel-voice`` command and example command in its ``sh`` blocks uses options
that exist."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pytest
import trio
import typer

from exotel_voice import (
    Account,
    AudioConfig,
    Call,
    ConfigurationError,
    ConnectionFailed,
    Disconnected,
    DtmfReceived,
    EndCause,
    ExotelRestClient,
    ExotelWebClient,
    IncomingCall,
    Phone,
    RateLimitError,
    ReconnectScheduled,
    Registered,
    RegistrationError,
    TlsOptions,
    Tone,
    WebCall,
    WriterClosedError,
    run_network_diagnostics,
)
from exotel_voice.cli.app import app
from exotel_voice.webclient import account_from_sip_account_info
from sipadapters.server import LocalServerRunner, serve
from sipcore import Registered as SipRegistered
from sipcore import RegistrationFailed as SipRegistrationFailed
from sipcore import StreamFramer, UserAgent, UserAgentConfig
from sipmedia import FileRecorder, FileSource, Pcm, rms_dbfs, tone_ratio
from tests.examples.harness import (
    EXAMPLES,
    PASSWORD,
    account,
    decode,
    dev_server,
    first_incoming,
    hears,
    peer,
    registered,
)

pytestmark = pytest.mark.anyio

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
README = EXAMPLES / "README.md"


# ====================================================================== the guide's text


def blocks(language: str, document: Path = GUIDE) -> list[tuple[int, str]]:
    """Every fenced ``language`` block of ``document``: (line number, code)."""
    text = document.read_text()
    return [
        (text[: match.start()].count("\n") + 1, match.group(1))
        for match in re.finditer(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)
    ]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack)))


def test_every_python_block_of_the_guide_is_tested_code() -> None:
    sources = [Path(__file__), *sorted(EXAMPLES.glob("*.py"))]
    tested = [_lines(path.read_text()) for path in sources]
    python = blocks("python")
    assert len(python) >= 15
    untested = [
        line for line, code in python if not any(_contains(t, _lines(code)) for t in tested)
    ]
    assert not untested, f"docs/api.md blocks at lines {untested} are not in {sources}"


@pytest.mark.parametrize("document", [GUIDE, README], ids=["api.md", "examples/README.md"])
def test_every_command_has_the_options_it_uses(document: Path) -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    checked = 0
    for line, code in blocks("sh", document):
        for text in code.replace("\\\n", " ").splitlines():
            words = shlex.split(text, comments=True)
            if words[:2] == ["uv", "run"]:
                words = words[2:]
            if not words:
                continue
            options = [w.split("=")[0] for w in words if w.startswith("--")]
            if words[0] == "exotel-voice" and len(words) > 1 and not words[1].startswith("-"):
                known = {o for p in commands[words[1]].params for o in (*p.opts, *p.secondary_opts)}
            elif words[0].startswith("examples/"):
                # The script's own options, and the account options all examples share.
                source = (EXAMPLES.parent / words[0]).read_text()
                source += (EXAMPLES / "account_options.py").read_text()
                known = {o for o in options if f'"{o}"' in source}
            else:
                continue
            missing = [o for o in options if o not in known | {"--help"}]
            assert not missing, f"{document.name}:{line}: {text!r} uses unknown {missing}"
            checked += 1
    assert checked >= 8


# ====================================================================== Account


def test_account_snippets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXOTEL_VOICE_PASSWORD", "not-a-real-one")
    account = Account(
        user="agent42",
        password=os.environ["EXOTEL_VOICE_PASSWORD"],
        domain="example.exotel.in",
        server="wss://example.exotel.in:443/ws",
        display_name="Agent 42",
        codecs=("opus", "PCMU"),
        dtmf_mode="info",
        max_calls=2,
    )
    assert account.aor == "sip:agent42@example.exotel.in"
    assert "not-a-real-one" not in repr(account)

    try:
        Account(user="agent 42", password="pw", domain="example.com", server="wss://example.com/")
    except ConfigurationError as exc:
        print(exc.field, "-", exc)  # user - user: not a valid SIP user name: 'agent 42'
    printed = capsys.readouterr().out
    assert printed == "user - user: not a valid SIP user name: 'agent 42'\n"


# ====================================================================== Phone and Call


async def call_and_listen(account: Account, target: str) -> float:
    """Call ``target``, listen for two seconds, hang up; how loud the far end was (dBFS)."""
    async with Phone(account) as phone:  # connects and registers
        call = await phone.call(target)
        with anyio.fail_after(30):
            await call.wait_connected()  # CallStateError if it was refused
        await anyio.sleep(2)
        level = rms_dbfs(await call.recent_audio(2))
        await call.hangup()
        await call.wait_ended()
        return level  # leaving the block unregisters and disconnects


async def answer_then_hang_up(phone: Phone) -> None:
    """Answer the next call, talk for a second, hang up."""
    async for call in phone.incoming():
        await call.answer()
        await call.wait_connected()
        await anyio.sleep(1)
        await call.hangup()
        return


async def test_call_and_listen() -> None:
    async def answer(phone: Phone) -> None:
        await (await first_incoming(phone)).answer()

    async with dev_server() as server, peer(server, "bob", 1500) as bob:
        async with anyio.create_task_group() as phones:
            phones.start_soon(answer, bob)
            level = await call_and_listen(account(server, "alice"), "bob")
        assert level > -20  # bob's tone (silence would be far below)


async def speech_bot(
    call: Call,
    recognize: Callable[[Pcm], str],
    synthesize: Callable[[str], AsyncIterator[Pcm]],
) -> None:
    """Hear the caller at 16 kHz and answer with 16 kHz speech, until the call ends."""
    voice = call.pcm_writer(rate=16000)
    with contextlib.suppress(WriterClosedError):  # the caller hung up while the bot spoke
        async for frame in call.audio_frames(rate=16000):  # 320 samples every 20 ms
            text = recognize(frame)  # a streaming recognizer: text at an utterance's end
            if text:
                async for chunk in synthesize(text):  # 16 kHz chunks, faster than real time
                    await voice.send(chunk)  # paced by the call, nothing dropped


async def test_speech_bot() -> None:
    frames: list[Pcm] = []

    def recognize(frame: Pcm) -> str:
        """Stands in for a recognizer: "hello" once the caller's 1 kHz tone has lasted
        half a second (25 frames of it)."""
        assert frame.size == 320
        frames.append(frame)
        loud = sum(1 for f in frames[-25:] if tone_ratio(f, 1000, rate=16000) > 0.8)
        return "hello" if loud == 25 and len(frames) % 25 == 0 and len(frames) <= 200 else ""

    async def synthesize(text: str) -> AsyncIterator[Pcm]:
        """Stands in for TTS: 2 s of a 700 Hz "voice" at 16 kHz, in 100 ms chunks at once."""
        t = np.arange(2 * 16000) / 16000
        speech = (8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16)
        for start in range(0, speech.size, 1600):
            yield speech[start : start + 1600]

    async with (
        dev_server() as server,
        peer(server, "bob") as bob,
        peer(server, "alice", 1000) as alice,
        anyio.create_task_group() as tasks,
    ):
        call_out = await alice.call("bob")
        call_in = await first_incoming(bob)
        await call_in.answer()
        tasks.start_soon(speech_bot, call_in, recognize, synthesize)
        await call_out.wait_connected()
        # The bot heard the caller, answered, and its 16 kHz speech arrives at the call's pace.
        await hears(call_out, 700)
        await call_out.hangup()  # the bot's iteration ends with the call
    assert len(frames) >= 25


async def log_phone_events(phone: Phone) -> None:
    async for event in phone.events():
        match event:
            case Registered(expires=expires):
                print(f"registered for {expires} s")
            case Disconnected(error=error):
                print(f"connection lost ({error}); reconnecting")
            case ReconnectScheduled(attempt=attempt, delay=delay):
                print(f"reconnection attempt {attempt} in {delay:.1f} s")
            case IncomingCall(call=call):
                print(f"call from {call.details.remote_uri}")


async def collect_digits(call: Call, count: int) -> str:
    """The next ``count`` DTMF keys the far end presses."""
    digits = ""
    async for event in call.events():  # ends when the call ends
        if isinstance(event, DtmfReceived):
            digits += event.digit
            if len(digits) == count:
                break
    return digits


async def test_events(capsys: pytest.CaptureFixture[str]) -> None:
    async with (
        dev_server() as server,
        peer(server, "bob") as bob,
        peer(server, "alice") as alice,
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(log_phone_events, bob)
        await anyio.sleep(0)
        await bob.register()  # a refresh: Registered again
        call_out = await alice.call("bob")
        call_in = await first_incoming(bob)
        await call_in.answer()
        await call_out.wait_connected()
        await call_in.wait_connected()
        async with anyio.create_task_group() as keys:
            keys.start_soon(call_out.send_dtmf, "12#")
            assert await collect_digits(call_in, 3) == "12#"
        await call_out.hangup()
        tasks.cancel_scope.cancel()
    printed = capsys.readouterr().out
    assert "registered for 300 s" in printed
    assert "call from sip:alice@local.test" in printed


# ====================================================================== audio


def test_audio_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with FileRecorder("prompt.wav") as prompt:
        prompt.write(Tone(440).read(4800))
    (tmp_path / "calls").mkdir()
    account = Account(user="bot", password="pw", domain="example.com", server="wss://example.com/")

    Phone(account)  # calls send silence, and what they receive goes nowhere
    Phone(account, source=lambda: Tone(440))  # every call sends a 440 Hz tone
    Phone(account, audio=AudioConfig())  # microphone and speaker if any, else silence
    Phone(account, audio=AudioConfig(source="prompt.wav", sink="calls/{call_id}.wav"))

    with pytest.raises(ConfigurationError, match="source"):
        AudioConfig(source="no-such-prompt.wav")


async def play_record_echo(call: Call) -> None:
    """Answer with a greeting, record the caller, then echo them."""
    await call.answer(FileSource("greeting.wav"))  # what we send, from the first packet
    await call.record("caller.ogg")  # what we receive; finished when the call ends
    await anyio.sleep(1)
    call.play(Tone(1000))  # switch what we send, no renegotiation
    await anyio.sleep(1)
    await call.echo()  # send back what we receive


async def test_play_record_echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with FileRecorder("greeting.wav") as greeting:
        greeting.write(Tone(550).read(48_000))
    async with (
        dev_server() as server,
        peer(server, "bot") as bot,
        peer(server, "alice", 700) as alice,
    ):
        call = await alice.call("bot")
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(play_record_echo, await first_incoming(bot))
            await call.wait_connected()
            await hears(call, 550)
            await hears(call, 1000)
            await hears(call, 700)
        await call.hangup()
        await call.wait_ended()
        await anyio.sleep(0.5)  # the bot's side ends (and the file is finished)
    assert tone_ratio(decode(tmp_path / "caller.ogg"), 700) > 0.8


# ====================================================================== errors


async def check_account(account: Account) -> str:
    """Whether ``account`` can register, in words."""
    try:
        async with Phone(account):
            return "ok"
    except RegistrationError as exc:
        return "wrong user or password" if exc.auth_rejected else f"refused: {exc}"
    except ConnectionFailed as exc:
        return f"server unreachable: {exc}"


async def test_check_account() -> None:
    async with dev_server() as server:
        good = account(server, "alice")
        assert await check_account(good) == "ok"
        wrong = Account(
            user="alice",
            password="wrong",
            domain=server.domain,
            server=server.wss_url,
            tls=TlsOptions(ca_file=server.ca_file),
        )
        assert await check_account(wrong) == "wrong user or password"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    unreachable = Account(
        user="alice", password="pw", domain="local.test", server=f"ws://127.0.0.1:{closed_port}/"
    )
    assert (await check_account(unreachable)).startswith("server unreachable")


# ====================================================================== trio


async def ring_on_trio(account: Account, target: str) -> EndCause:
    """Call ``target`` from trio, say hello with a tone for a second, hang up."""
    async with Phone(account, source=lambda: Tone(440)) as phone:
        call = await phone.call(target)
        with trio.fail_after(10):
            await call.wait_connected()
        await trio.sleep(1)
        await call.hangup()
        return (await call.wait_ended()).cause


async def test_trio() -> None:
    async with dev_server() as server, peer(server, "bob") as bob:
        alice = account(server, "alice")
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(first_answer_and_hear, bob, 440.0)
            # trio.run in a thread of its own: the test's loop serves the server meanwhile.
            cause = await anyio.to_thread.run_sync(trio.run, ring_on_trio, alice, "bob")
        assert cause is EndCause.LOCAL_HANGUP


async def first_answer_and_hear(phone: Phone, tone: float) -> None:
    call = await first_incoming(phone)
    await call.answer()
    await call.wait_connected()
    await hears(call, tone)


# ====================================================================== the facade


def take_one_call(sip_account_info: dict[str, Any]) -> None:
    """The guide's flow: register, answer a call, press 5, hang up, unregister."""
    connected = threading.Event()

    def on_register(state: str, phone: str) -> None:
        print("register:", state)  # sent_request, registered, unregistered, terminated

    def on_call(call: WebCall, state: str, phone: str) -> None:
        print("call:", state, call.remoteDisplayName)  # incoming, connected, callEnded...
        if state == "incoming":
            call.Answer()  # from a callback: scheduled, returns at once
        elif state == "connected":
            connected.set()

    with ExotelWebClient() as client:  # leaving: hang up, unregister, stop its thread
        client.initWebrtc(sip_account_info, on_register, on_call)
        client.DoRegister()
        if connected.wait(timeout=60):
            client.getCall().sendDTMF("5")  # from another thread: done when it returns
            client.getCall().Hangup()


def test_sip_account_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOTEL_VOICE_PASSWORD", "not-a-real-one")
    sip_account_info = {
        "userName": "agent42",
        "authUser": "agent42",
        "sipdomain": "example.exotel.in",
        "domain": "example.exotel.in:443",
        "displayname": "Agent 42",
        "secret": os.environ["EXOTEL_VOICE_PASSWORD"],
        "port": "443",
        "security": "wss",
        "endpoint": "wss",
    }
    assert account_from_sip_account_info(sip_account_info).server == (
        "wss://example.exotel.in:443/wss"
    )


async def test_take_one_call(capsys: pytest.CaptureFixture[str]) -> None:
    async with dev_server() as server, peer(server, "alice") as alice:
        info = {
            "userName": "agent",
            "sipdomain": server.domain,
            "domain": f"127.0.0.1:{server.wss_port}",
            "secret": PASSWORD,
            "port": str(server.wss_port),
            "security": "wss",
            "caFile": server.ca_file,
        }
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, take_one_call, info)
            await registered(server, "agent")
            call = await alice.call("agent")
            await call.wait_connected()
            assert await collect_digits(call, 1) == "5"
            assert (await call.wait_ended()).cause is EndCause.REMOTE_HANGUP
    printed = capsys.readouterr().out
    for line in ("register: registered", "call: incoming alice", "call: callEnded alice"):
        assert line in printed
    assert printed.rstrip().endswith("register: unregistered")


# ====================================================================== REST


def call_customer(exotel: ExotelRestClient, agent: str, customer: str, exophone: str) -> str:
    """Ring the agent's web client; once it answers, Exotel connects the customer."""
    try:
        call = exotel.connect_call(agent, customer, exophone, time_limit=900, record=True)
    except RateLimitError as exc:  # 200 requests a minute for the Voice API
        time.sleep(1.0 if exc.retry_after is None else exc.retry_after)
        call = exotel.connect_call(agent, customer, exophone, time_limit=900, record=True)
    return call.sid


class _FakeExotel(BaseHTTPRequestHandler):
    """Answers Calls/connect.json as Exotel documents it: 429 first, then the call."""

    requests: list[tuple[str, str]] = []  # noqa: RUF012 - one test's record

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).requests.append((self.path, body))
        if len(type(self).requests) == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0")
            payload: dict[str, Any] = {"RestException": {"Status": 429, "Message": "slow down"}}
        else:
            self.send_response(200)
            payload = {"Call": {"Sid": "c5797dcb", "Status": "in-progress"}}
        data = json.dumps(payload).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_rest_snippets() -> None:
    api_key, api_token, account_sid = "key", "token", "acme1"
    exotel = ExotelRestClient(api_key, api_token, account_sid, subdomain="api.in.exotel.com")
    assert exotel.base_url == "https://api.in.exotel.com"
    exotel.close()

    with ThreadingHTTPServer(("127.0.0.1", 0), _FakeExotel) as http:
        threading.Thread(target=http.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{http.server_address[1]}"
        with ExotelRestClient(
            api_key, api_token, account_sid, base_url=url, allow_insecure_http=True
        ) as local:
            assert call_customer(local, "agent42", "+919876543210", "08047112233") == "c5797dcb"
        http.shutdown()
    path, form = _FakeExotel.requests[-1]
    assert path == "/v1/Accounts/acme1/Calls/connect.json"
    assert "From=agent42" in form and "TimeLimit=900" in form


# ====================================================================== diagnostics


async def print_diagnostics(account: Account, phone: Phone) -> None:
    report = await run_network_diagnostics(account, phone=phone)
    for result in report.results():  # wss, userReg, udp, tcp, ipv6, host, srflx, relay
        print(f"{result.key:8} {result.status:13} {result.description}")


async def test_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    async with dev_server() as server, peer(server, "alice") as alice:
        await print_diagnostics(alice.account, alice)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["wss", "connected"]
    assert printed[1].split()[:2] == ["userReg", "registered"]


# ====================================================================== the server


async def offline_call() -> EndCause:
    """alice calls bob through the development server; bob answers and hangs up."""
    users = {"alice": "alice-pw", "bob": "bob-pw"}
    async with serve(users, domain="local.test") as server:

        def account(user: str) -> Account:
            return Account(
                user=user,
                password=users[user],
                domain=server.domain,
                server=server.wss_url,
                tls=TlsOptions(ca_file=server.ca_file),  # verified, as in production
            )

        async with (
            Phone(account("alice")) as alice,
            Phone(account("bob")) as bob,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(answer_then_hang_up, bob)
            call = await alice.call("bob")
            ended = await call.wait_ended()
        return ended.cause


async def test_offline_call() -> None:
    assert await offline_call() is EndCause.REMOTE_HANGUP


# ====================================================================== sipcore alone


def register_over_tcp(host: str, port: int, aor: str, password: str) -> int:
    """Register with sipcore alone, over a blocking socket; returns the granted expiry."""
    ua = UserAgent(UserAgentConfig.for_account(aor, password, transport="tcp"))
    framer = StreamFramer()  # TCP is a byte stream: cut it into messages
    with socket.create_connection((host, port), timeout=5) as sock:
        ua.register(now=time.monotonic())
        while True:
            for data in ua.messages_to_send(now=time.monotonic()):  # 1. send what it queued
                sock.sendall(data)
            while (event := ua.next_event()) is not None:  # 2. see what happened
                if isinstance(event, SipRegistered):
                    return event.expires
                if isinstance(event, SipRegistrationFailed):
                    raise RuntimeError(f"{event.status_code} {event.reason}")
            deadline = ua.get_timer()  # 3. wait for bytes, or until the next deadline
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            sock.settimeout(wait)
            try:
                received = sock.recv(65536)
            except TimeoutError:
                assert deadline is not None
                ua.handle_timer(now=max(deadline, time.monotonic()))  # never early
                continue
            if not received:
                raise ConnectionError("the server closed the connection")
            framer.feed(received)
            while (frame := framer.next_frame()) is not None:
                if frame.message is not None:
                    ua.receive_message(frame.message, now=time.monotonic())


async def test_register_over_tcp() -> None:
    async with serve({"alice": "alice-pw"}, domain="local.test", transports=("tcp",)) as server:
        expires = await anyio.to_thread.run_sync(
            register_over_tcp, "127.0.0.1", server.tcp_port, "sip:alice@local.test", "alice-pw"
        )
        assert expires == 300
        assert isinstance(server, LocalServerRunner)
