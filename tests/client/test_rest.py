"""The Exotel REST helper against a real local HTTPS server that checks every request.

The server (``FakeExotel``) is a ``ThreadingHTTPServer`` on a free loopback port with a
trustme certificate; it records what it receives and answers what the test scripts.
Every client test runs three ways: the sync client, and the async client on asyncio and
on trio.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import pytest
import trustme

from exotel_voice.errors import ConfigurationError, ExotelVoiceError
from exotel_voice.rest import (
    ApiConnectionError,
    ApiTimeoutError,
    AsyncExotelRestClient,
    AuthenticationError,
    CallRecord,
    ExotelApiError,
    ExotelRestClient,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

API_KEY = "k3y-0a1b2c"
API_TOKEN = "t0ken-SECRET-d4e5f6a7b8"
ACCOUNT_SID = "acme_corp1"
CALL_SID = "c5797dcbaaeed7678c4062a4a3ed2f8a"
BASIC = "Basic " + base64.b64encode(f"{API_KEY}:{API_TOKEN}".encode()).decode()

# The shape of Exotel's documented Calls/connect.json and Calls/<sid>.json answers.
CALL_JSON: dict[str, Any] = {
    "Call": {
        "Sid": CALL_SID,
        "ParentCallSid": None,
        "DateCreated": "2017-03-03 10:48:33",
        "DateUpdated": "2017-03-03 10:48:33",
        "AccountSid": ACCOUNT_SID,
        "To": "+919876543210",
        "From": "agent_sip_user",
        "PhoneNumberSid": "08047112233",
        "Status": "in-progress",
        "StartTime": "2017-03-03 10:48:33",
        "EndTime": None,
        "Duration": None,
        "Price": None,
        "Direction": "outbound-api",
        "AnsweredBy": None,
        "RecordingUrl": None,
        "Uri": f"/v1/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json",
    }
}
CONNECT_PATH = f"/v1/Accounts/{ACCOUNT_SID}/Calls/connect.json"


# --------------------------------------------------------------------------- the server


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What the server answers; ``hang`` keeps the client waiting instead."""

    status: int = 200
    body: bytes = json.dumps(CALL_JSON).encode()
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    hang: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.requests.append(Seen(self.command, self.path, headers, body))
        reply = fake.reply
        if reply.hang:
            fake.release.wait(10)
            self.close_connection = True
            return
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeExotel


class FakeExotel:
    """A loopback HTTP(S) server standing in for api.exotel.com."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.requests: list[Seen] = []
        self.reply = Reply()
        self.release = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def fake(ca: trustme.CA) -> Iterator[FakeExotel]:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server = FakeExotel(tls)
    yield server
    server.close()


@pytest.fixture
def settings(fake: FakeExotel, ca_file: Path) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "api_token": API_TOKEN,
        "account_sid": ACCOUNT_SID,
        "base_url": fake.url,
        "ca_file": ca_file,
        "timeout": 5.0,
    }


# --------------------------------------------------------------------------- the drivers


class Driver:
    """Calls one client method on a fresh client: sync, or async on an anyio backend."""

    def __init__(self, backend: str | None) -> None:
        self.backend = backend

    def __call__(self, settings: dict[str, Any], method: str, *args: Any, **kwargs: Any) -> Any:
        if self.backend is None:
            with ExotelRestClient(**settings) as client:
                return getattr(client, method)(*args, **kwargs)

        async def main() -> Any:
            async with AsyncExotelRestClient(**settings) as client:
                return await getattr(client, method)(*args, **kwargs)

        return anyio.run(main, backend=self.backend)


@pytest.fixture(params=[None, "asyncio", "trio"], ids=["sync", "asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def form(seen: Seen) -> list[tuple[str, str]]:
    return parse_qsl(seen.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


# --------------------------------------------------------------------------- requests


def test_connect_call_sends_the_documented_request(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    call = run(settings, "connect_call", "agent_sip_user", "+919876543210", "08047112233")

    [seen] = fake.requests
    assert seen.method == "POST"
    assert seen.path == CONNECT_PATH
    assert seen.headers["authorization"] == BASIC
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["user-agent"].startswith("exotel-voice/")
    assert seen.headers["accept"] == "application/json"
    assert form(seen) == [
        ("From", "agent_sip_user"),
        ("To", "+919876543210"),
        ("CallerId", "08047112233"),
    ]
    assert call == CallRecord(
        sid=CALL_SID,
        status="in-progress",
        from_="agent_sip_user",
        to="+919876543210",
        direction="outbound-api",
        date_created="2017-03-03 10:48:33",
        raw=CALL_JSON["Call"],
    )


def test_connect_call_sends_optional_fields_by_their_exotel_names(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    run(
        settings,
        "connect_call",
        "agent_sip_user",
        "+919876543210",
        "08047112233",
        call_type="trans",
        time_limit=14400,
        time_out=30,
        wait_url="https://example.com/wait.wav",
        record=True,
        recording_channels="dual",
        recording_format="mp3-hq",
        stream_url="wss://media.example.com/stream",
        stream_begin="at Leg2Connect",
        custom_field="order-42 & more",
        start_playback_to="Both",
        start_playback_value="https://example.com/hello.wav",
        status_callback="https://example.com/exotel/status?x=1",
        status_callback_events=["terminal", "answered"],
        status_callback_content_type="application/json",
    )

    [seen] = fake.requests
    assert form(seen) == [
        ("From", "agent_sip_user"),
        ("To", "+919876543210"),
        ("CallerId", "08047112233"),
        ("CallType", "trans"),
        ("TimeLimit", "14400"),
        ("TimeOut", "30"),
        ("WaitUrl", "https://example.com/wait.wav"),
        ("Record", "true"),
        ("RecordingChannels", "dual"),
        ("RecordingFormat", "mp3-hq"),
        ("StreamUrl", "wss://media.example.com/stream"),
        ("StreamBegin", "at Leg2Connect"),
        ("CustomField", "order-42 & more"),
        ("StartPlaybackToNew", "Both"),
        ("StartPlaybackValueNew", "https://example.com/hello.wav"),
        ("StatusCallback", "https://example.com/exotel/status?x=1"),
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackEvents[1]", "answered"),
        ("StatusCallbackContentType", "application/json"),
    ]


def test_an_option_given_as_none_is_left_out(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    run(settings, "connect_call", "a", "b", "c", record=False, custom_field=None)

    assert form(fake.requests[0]) == [
        ("From", "a"),
        ("To", "b"),
        ("CallerId", "c"),
        ("Record", "false"),
    ]


def test_get_call_fetches_the_call_details(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    call = run(settings, "get_call", CALL_SID)

    [seen] = fake.requests
    assert (seen.method, seen.path, seen.body) == (
        "GET",
        f"/v1/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json",
        b"",
    )
    assert seen.headers["authorization"] == BASIC
    assert call.sid == CALL_SID
    assert call.raw["Uri"] == CALL_JSON["Call"]["Uri"]


def test_identifiers_stay_one_path_segment(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    run({**settings, "account_sid": "acme/../x"}, "get_call", "c?d#e f")

    assert fake.requests[0].path == "/v1/Accounts/acme%2F..%2Fx/Calls/c%3Fd%23e%20f.json"


@pytest.mark.anyio
async def test_one_async_client_places_and_reads_calls(
    fake: FakeExotel, settings: dict[str, Any]
) -> None:
    async with AsyncExotelRestClient(**settings) as client:
        placed = await client.connect_call("agent_sip_user", "+919876543210", "08047112233")
        fetched = await client.get_call(placed.sid)

    assert [(seen.method, seen.path) for seen in fake.requests] == [
        ("POST", CONNECT_PATH),
        ("GET", f"/v1/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json"),
    ]
    assert fetched == placed


def test_plain_http_only_when_allowed(ca_file: Path) -> None:
    server = FakeExotel(tls=None)
    try:
        with pytest.raises(ConfigurationError, match="allow_insecure_http"):
            ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID, base_url=server.url)
        assert server.requests == []

        with ExotelRestClient(
            API_KEY, API_TOKEN, ACCOUNT_SID, base_url=server.url, allow_insecure_http=True
        ) as client:
            assert client.connect_call("a", "b", "c").sid == CALL_SID
        assert server.requests[0].headers["authorization"] == BASIC
    finally:
        server.close()


def test_an_untrusted_certificate_is_refused(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    without_ca = {key: value for key, value in settings.items() if key != "ca_file"}

    with pytest.raises(ApiConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        run(without_ca, "connect_call", "a", "b", "c")
    assert fake.requests == []


# --------------------------------------------------------------------------- errors


def rest_exception(status: int, message: str, code: object) -> bytes:
    return json.dumps(
        {"RestException": {"Status": status, "Message": message, "Code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "code"),
    [
        (
            401,
            rest_exception(401, "Authentication failed", "UNAUTHORIZED"),
            AuthenticationError,
            "Authentication failed",
            "UNAUTHORIZED",
        ),
        (403, rest_exception(403, "Forbidden", None), AuthenticationError, "Forbidden", None),
        (404, rest_exception(404, "Not found", 20404), NotFoundError, "Not found", "20404"),
        (429, rest_exception(429, "Slow down", None), RateLimitError, "Slow down", None),
        (500, b"", ServerError, "Internal Server Error", None),
        (503, b"<html>down for maintenance</html>", ServerError, "Service Unavailable", None),
        (
            400,
            rest_exception(400, "To is not a valid phone number", 13223),
            ExotelApiError,
            "To is not a valid phone number",
            "13223",
        ),
        (402, rest_exception(402, "No balance", None), ExotelApiError, "No balance", None),
    ],
)
def test_error_responses_map_to_exceptions(
    run: Driver,
    fake: FakeExotel,
    settings: dict[str, Any],
    status: int,
    body: bytes,
    kind: type[ExotelApiError],
    message: str,
    code: str | None,
) -> None:
    fake.reply = Reply(status=status, body=body)

    with pytest.raises(ExotelApiError) as raised:
        run(settings, "connect_call", "a", "b", "c")

    error = raised.value
    assert type(error) is kind
    assert isinstance(error, ExotelVoiceError)
    assert (error.status_code, error.message, error.code) == (status, message, code)
    assert str(error).startswith(f"HTTP {status}: {message}")
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "30"}, 30.0),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
            120.0,
        ),
        ({"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}, None),  # no Date to measure from
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_carries_retry_after(
    run: Driver,
    fake: FakeExotel,
    settings: dict[str, Any],
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    fake.reply = Reply(
        status=429, body=rest_exception(429, "Too many requests", None), headers=headers
    )

    with pytest.raises(RateLimitError) as raised:
        run(settings, "get_call", CALL_SID)

    assert raised.value.retry_after == retry_after


def test_not_found_on_get_call(run: Driver, fake: FakeExotel, settings: dict[str, Any]) -> None:
    fake.reply = Reply(status=404, body=rest_exception(404, "Resource not found", None))

    with pytest.raises(NotFoundError, match="Resource not found"):
        run(settings, "get_call", "nope")


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b'{"Call": {"Sid": ', "application/json", "not JSON"),
        (
            b"<TwilioResponse><Call><Sid>x</Sid></Call></TwilioResponse>",
            "application/xml",
            "not JSON",
        ),
        (b'{"Call": {"Status": "queued"}}', "application/json", '"Call" has no "Sid"'),
        (b'[{"Call": {"Sid": "x"}}]', "application/json", 'no "Call" object'),
        (b"\xff\xfe\xfa", "application/json", "not JSON"),
    ],
)
def test_a_malformed_success_body_is_a_clear_error(
    run: Driver,
    fake: FakeExotel,
    settings: dict[str, Any],
    body: bytes,
    content_type: str,
    problem: str,
) -> None:
    fake.reply = Reply(body=body, headers={"Content-Type": content_type})

    with pytest.raises(MalformedResponseError, match=problem) as raised:
        run(settings, "connect_call", "a", "b", "c")

    assert raised.value.status_code == 200


def test_connection_refused(run: Driver, settings: dict[str, Any]) -> None:
    # A bound socket that does not listen: the port stays ours and connecting is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}"

        with pytest.raises(ApiConnectionError) as raised:
            run({**settings, "base_url": url}, "connect_call", "a", "b", "c")

    assert type(raised.value) is ApiConnectionError
    assert raised.value.status_code is None
    assert "could not reach Exotel" in str(raised.value)


def test_no_answer_in_time_is_a_timeout(
    run: Driver, fake: FakeExotel, settings: dict[str, Any]
) -> None:
    fake.reply = Reply(hang=True)

    with pytest.raises(ApiTimeoutError) as raised:
        run({**settings, "timeout": 0.3}, "connect_call", "a", "b", "c")

    assert isinstance(raised.value, ApiConnectionError)
    assert raised.value.status_code is None
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- validation

GOOD = ("agent", "+919876543210", "0804")


@pytest.mark.parametrize(
    ("args", "options", "field_name"),
    [
        (("", "+919876543210", "0804"), {}, "from_"),
        (("agent", "   ", "0804"), {}, "to"),
        (("agent", "+91\r\nX-Evil: 1", "0804"), {}, "to"),
        (("agent", "+919876543210", "0804\n"), {}, "caller_id"),
        (("agent\x00", "+919876543210", "0804"), {}, "from_"),
        ((None, "+919876543210", "0804"), {}, "from_"),
        (GOOD, {"to_number": "x"}, "to_number"),
        (GOOD, {"time_limit": 14401}, "time_limit"),
        (GOOD, {"time_limit": 0}, "time_limit"),
        (GOOD, {"time_out": True}, "time_out"),
        (GOOD, {"time_out": "30"}, "time_out"),
        (GOOD, {"record": "yes"}, "record"),
        (GOOD, {"custom_field": "x" * 129}, "custom_field"),
        (GOOD, {"custom_field": "a\rb"}, "custom_field"),
        (GOOD, {"status_callback": "ftp://x/y"}, "status_callback"),
        (GOOD, {"status_callback": "example.com/cb"}, "status_callback"),
        (GOOD, {"stream_url": "https://x/y"}, "stream_url"),
        (GOOD, {"status_callback_events": "terminal"}, "status_callback_events"),
        (GOOD, {"status_callback_events": []}, "status_callback_events"),
    ],
)
def test_invalid_call_fields_raise_before_anything_is_sent(
    run: Driver,
    fake: FakeExotel,
    settings: dict[str, Any],
    args: tuple[Any, ...],
    options: dict[str, Any],
    field_name: str,
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        run(settings, "connect_call", *args, **options)

    assert raised.value.field == field_name
    assert fake.requests == []


@pytest.mark.parametrize("call_sid", ["", "  ", ".", "..", "abc\r\n", 42])
def test_invalid_call_sid_raises_before_anything_is_sent(
    run: Driver, fake: FakeExotel, settings: dict[str, Any], call_sid: Any
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        run(settings, "get_call", call_sid)

    assert raised.value.field == "call_sid"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("subdomain", "base_url"),
    [
        (None, "https://api.exotel.com"),
        ("api.exotel.com", "https://api.exotel.com"),
        ("@api.in.exotel.com", "https://api.in.exotel.com"),
        ("API.In.Exotel.com", "https://api.in.exotel.com"),
    ],
)
def test_subdomain_names_the_https_host(subdomain: str | None, base_url: str) -> None:
    options: dict[str, Any] = {} if subdomain is None else {"subdomain": subdomain}
    with ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID, **options) as client:
        assert client.base_url == base_url
        assert client.account_sid == ACCOUNT_SID


@pytest.mark.parametrize(
    "subdomain",
    [
        "",
        "https://api.exotel.com",
        "api.exotel.com/v1",
        "api.exotel.com\r\nX-Injected: 1",
        "api.exotel.com\n",
        "user:pass@api.exotel.com",
        "api.exotel.com:8443",
        "api..exotel.com",
        "-api.exotel.com",
        "api exotel.com",
        "api.exotel.com?x=1",
        "a" * 64 + ".com",
    ],
)
def test_subdomain_must_be_a_host_name(subdomain: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID, subdomain=subdomain)
    assert raised.value.field == "subdomain"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://exotel.internal.example", "https://exotel.internal.example"),
        ("https://exotel.internal.example:8443/", "https://exotel.internal.example:8443"),
        ("https://gw.example/exotel/", "https://gw.example/exotel"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_base_url_is_normalised(base_url: str, expected: str) -> None:
    with ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID, base_url=base_url) as client:
        assert client.base_url == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8080",
        "ftp://api.exotel.com",
        "https://",
        "https://key:token@api.exotel.com",
        "https://api.exotel.com/?x=1",
        "https://api.exotel.com/#frag",
        "https://api.exotel.com/\r\nX-Injected: 1",
        "https://api.exotel.com:99999",
        "api.exotel.com",
    ],
)
def test_base_url_must_be_a_plain_https_url(base_url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID, base_url=base_url)
    assert raised.value.field == "base_url"


@pytest.mark.parametrize(
    ("overrides", "field_name"),
    [
        ({"api_key": ""}, "api_key"),
        ({"api_key": "user:name"}, "api_key"),
        ({"api_token": ""}, "api_token"),
        ({"api_token": API_TOKEN + "\r\n"}, "api_token"),
        ({"account_sid": ""}, "account_sid"),
        ({"account_sid": "acme\n"}, "account_sid"),
        ({"account_sid": ".."}, "account_sid"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"subdomain": "api.exotel.com", "base_url": "https://api.exotel.com"}, "base_url"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ],
)
def test_invalid_construction_names_the_field(overrides: dict[str, Any], field_name: str) -> None:
    arguments: dict[str, Any] = {
        "api_key": API_KEY,
        "api_token": API_TOKEN,
        "account_sid": ACCOUNT_SID,
        **overrides,
    }
    with pytest.raises(ConfigurationError) as raised:
        ExotelRestClient(**arguments)
    assert raised.value.field == field_name
    assert API_TOKEN not in str(raised.value)


# --------------------------------------------------------------------------- secrets


def test_credentials_are_not_in_repr() -> None:
    sync = ExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID)
    asynchronous = AsyncExotelRestClient(API_KEY, API_TOKEN, ACCOUNT_SID)
    try:
        for client in (sync, asynchronous):
            text = repr(client)
            assert ACCOUNT_SID in text
            assert API_TOKEN not in text
            assert API_KEY not in text
    finally:
        sync.close()
        anyio.run(asynchronous.aclose)


def test_credentials_are_never_logged(
    run: Driver, fake: FakeExotel, settings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ExotelApiError] = []

    run(settings, "connect_call", "agent_sip_user", "+919876543210", "08047112233")
    fake.reply = Reply(status=401, body=rest_exception(401, "Authentication failed", None))
    with pytest.raises(AuthenticationError) as denied:
        run(settings, "get_call", CALL_SID)
    errors.append(denied.value)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(ApiConnectionError) as unreachable:
            run({**settings, "base_url": url}, "get_call", CALL_SID)
    errors.append(unreachable.value)

    ours = [record for record in caplog.records if record.name == "exotel_voice.rest"]
    assert any(CONNECT_PATH in record.getMessage() for record in ours)
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    encoded = BASIC.removeprefix("Basic ")
    for text in [caplog.text, *(record.getMessage() for record in caplog.records)]:
        assert API_TOKEN not in text
        assert encoded not in text
    for error in errors:
        assert API_TOKEN not in str(error)
        assert encoded not in str(error)


def test_call_record_raw_is_read_only(run: Driver, settings: dict[str, Any]) -> None:
    call = run(settings, "get_call", CALL_SID)

    with pytest.raises(TypeError):
        call.raw["Status"] = "completed"
    assert hash(call) == hash(call)
    assert "raw" not in repr(call)
