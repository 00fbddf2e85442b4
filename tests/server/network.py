"""An in-memory network around a sans-IO ``LocalServer``, on virtual time.

h11's ``ConnectionPair`` grown to a star: every phone is a sipcore ``UserAgent`` on a
``Flow`` of its own; ``pump`` carries each phone's ``messages_to_send`` to the server and
the server's ``(flow, data)`` to the phone on that flow, until everything is quiet;
``advance`` fires timers in order on a virtual clock starting at 0.0. Flows with no
phone (``raw`` ones) collect what the server sends them, for tests that play a
misbehaving peer by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sipcore.config import UserAgentConfig
from sipcore.digest import (
    DigestSession,
    authorization_header_name,
    challenge_header_name,
    parse_challenges,
)
from sipcore.events import Event
from sipcore.ids import SequentialIds
from sipcore.message import Request, Response, parse_message
from sipcore.server import Flow, LocalServer, ServerConfig, ServerEvent
from sipcore.user_agent import UserAgent

DOMAIN = "local.test"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
ANSWER = OFFER.replace(b"4000", b"5000")

T = TypeVar("T")
Drop = Callable[[Flow, bytes], bool]
Builder = Callable[[int], Request]
"""Makes the n-th attempt of a request (n = 1, then 2 after a challenge)."""


def never(_flow: Flow, _data: bytes) -> bool:
    return False


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode("utf-8", "replace")


PORTS = {"ws": 5066, "udp": 5060, "tcp": 5070}


def make_server(**options: Any) -> LocalServer:
    """The server under test: ``local.test`` with ``USERS``, deterministic ids."""
    return LocalServer(
        ServerConfig(domain=DOMAIN, ports=PORTS, **options), USERS, ids=SequentialIds("s")
    )


def make_phone(user: str, transport: str = "ws", **options: Any) -> UserAgent:
    """A phone for ``user`` (its password from ``USERS`` unless given)."""
    options.setdefault("no_answer_timeout", None)
    password = options.pop("password", USERS.get(user, "x"))
    config = UserAgentConfig.for_account(
        f"sip:{user}@{DOMAIN}", password, transport=transport, **options
    )
    return UserAgent(config, ids=SequentialIds(f"{user[0]}{transport}"))


@dataclass
class Network:
    """A server, the phones on its flows, and the virtual clock."""

    server: LocalServer
    phones: dict[Flow, UserAgent] = field(default_factory=dict)
    now: float = 0.0
    up: list[tuple[Flow, bytes]] = field(default_factory=list)
    """Everything phones (and ``inject``) sent to the server."""
    down: list[tuple[Flow, bytes]] = field(default_factory=list)
    """Everything the server sent, with the flow it went to."""
    drop_up: Drop = never
    drop_down: Drop = never
    server_events: list[ServerEvent] = field(default_factory=list)

    def attach(self, ua: UserAgent, flow: Flow) -> UserAgent:
        self.phones[flow] = ua
        return ua

    def phone(self, user: str, port: int, transport: str = "ws", **options: Any) -> UserAgent:
        """A new phone for ``user`` on flow ``transport:127.0.0.1:port``."""
        if transport == "udp":
            options.setdefault("local_host", "127.0.0.1")
            options.setdefault("local_port", port)
        return self.attach(
            make_phone(user, transport, **options), Flow(transport, "127.0.0.1", port)
        )

    def flow_of(self, ua: UserAgent) -> Flow:
        return next(f for f, p in self.phones.items() if p is ua)

    def inject(self, flow: Flow, data: bytes) -> None:
        """Bytes from a raw (phone-less) peer on ``flow``."""
        self.up.append((flow, data))
        self.server.receive_message(flow, data, self.now)
        self.pump()

    def sent_to(self, flow: Flow) -> list[bytes]:
        return [d for f, d in self.down if f == flow]

    def responses_to(self, flow: Flow) -> list[Response]:
        out = []
        for data in self.sent_to(flow):
            if data.startswith(b"SIP/2.0"):
                message = parse_message(data)
                assert isinstance(message, Response)
                out.append(message)
        return out

    def requests_to(self, flow: Flow, method: str | None = None) -> list[Request]:
        out = []
        for data in self.sent_to(flow):
            if data.strip(b"\r\n") and not data.startswith(b"SIP/2.0"):
                message = parse_message(data)
                assert isinstance(message, Request)
                if method is None or message.method == method:
                    out.append(message)
        return out

    def pump(self) -> None:
        """Deliver everything queued, both ways, until all are quiet."""
        moved = True
        while moved:
            moved = False
            for flow, ua in list(self.phones.items()):
                for data in ua.messages_to_send(self.now):
                    moved = True
                    self.up.append((flow, data))
                    if not self.drop_up(flow, data):
                        self.server.receive_message(flow, data, self.now)
            for flow, data in self.server.messages_to_send():
                moved = True
                self.down.append((flow, data))
                target = self.phones.get(flow)
                if target is not None and not self.drop_down(flow, data):
                    target.receive_message(data, self.now)
            while (event := self.server.next_event()) is not None:
                self.server_events.append(event)

    def next_timer(self) -> float | None:
        timers = [self.server.get_timer(), *(ua.get_timer() for ua in self.phones.values())]
        present = [t for t in timers if t is not None]
        return min(present) if present else None

    def advance(self, until: float) -> None:
        """Deliver, then fire timers in order up to ``until``."""
        self.pump()
        while (t := self.next_timer()) is not None and t <= until:
            self.now = max(self.now, t)
            self.server.handle_timer(self.now)
            for ua in list(self.phones.values()):
                ua.handle_timer(self.now)
            self.pump()
        self.now = max(self.now, until)

    def close(self, flow: Flow) -> None:
        """The connection closes: both ends hear of it; the phone leaves the network."""
        ua = self.phones.pop(flow, None)
        if ua is not None:
            ua.connection_lost(self.now)
        self.server.flow_closed(flow, self.now)
        self.pump()

    def reconnect(self, ua: UserAgent, flow: Flow) -> None:
        """``ua`` comes back on a new connection (it re-registers, RFC 5626 §4.4.1)."""
        self.attach(ua, flow)
        ua.connection_made(self.now)
        self.pump()

    def take_server_events(self, kind: type[T]) -> list[T]:
        self.pump()
        found: list[T] = [e for e in self.server_events if isinstance(e, kind)]
        self.server_events = [e for e in self.server_events if not isinstance(e, kind)]
        return found


def events(ua: UserAgent) -> list[Event]:
    out: list[Event] = []
    while (event := ua.next_event()) is not None:
        out.append(event)
    return out


def of_type(items: list[Event], kind: type[T]) -> list[T]:
    return [e for e in items if isinstance(e, kind)]


class RawPeer:
    """A hand-driven client on one flow: builds requests, answers digest challenges."""

    def __init__(self, net: Network, flow: Flow, user: str = "carol") -> None:
        self.net = net
        self.flow = flow
        self.user = user
        self._n = 0

    def request(
        self,
        method: str,
        uri: str,
        *,
        to: str | None = None,
        call_id: str = "raw-call",
        cseq: int = 1,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        max_forwards: int | None = 70,
    ) -> Request:
        """A request from ``user`` (not sent)."""
        self._n += 1
        request = Request(method, uri)
        h = request.headers
        h.add(
            "Via", f"SIP/2.0/{self.flow.transport.upper()} raw.invalid;branch=z9hG4bKraw{self._n}"
        )
        if max_forwards is not None:
            h.add("Max-Forwards", str(max_forwards))
        h.add("From", f"<sip:{self.user}@{DOMAIN}>;tag=rawtag")
        h.add("To", to or f"<sip:{self.user}@{DOMAIN}>")
        h.add("Call-ID", call_id)
        h.add("CSeq", f"{cseq} {method}")
        for name, value in headers:
            h.add(name, value)
        request.set_body(body, "application/sdp" if body else None)
        return request

    def send(self, request: Request) -> list[Response]:
        """Send ``request``; the responses it got (so far)."""
        before = len(self.net.sent_to(self.flow))
        self.net.inject(self.flow, bytes(request))
        out = []
        for data in self.net.sent_to(self.flow)[before:]:
            if data.startswith(b"SIP/2.0"):
                response = parse_message(data)
                assert isinstance(response, Response)
                if response.call_id == request.call_id and response.cseq == request.cseq:
                    out.append(response)
        return out

    def send_authenticated(self, build: Builder, password: str) -> Response:
        """Send ``build(1)``; answer a 401/407 with ``build(2)`` and credentials."""
        first = build(1)
        final = self.send(first)[-1]
        if final.status_code not in (401, 407):
            return final
        session = DigestSession(self.user, password)
        name = challenge_header_name(final.status_code)
        decision = session.respond(parse_challenges(final.headers.get_all(name)))
        assert decision.retry
        retry = build(2)
        auth = session.authorize(method=retry.method, uri=str(retry.uri), cnonce="raw-cnonce")
        retry.headers.set(authorization_header_name(final.status_code), auth.header_value)
        return self.send(retry)[-1]
