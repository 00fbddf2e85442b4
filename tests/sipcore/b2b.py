"""Two sans-IO peers wired back to back in memory, on virtual time (h11's ConnectionPair).

``Link`` carries each side's ``messages_to_send`` to the other, optionally dropping
messages (an unreliable link), and advances a virtual clock from timer to timer, so
32-second timeouts take microseconds. ``TestRegistrar`` is the neighbour a registering
UA needs: a digest-authenticating registrar built on sipcore's own parser and digest
verification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sipcore.digest import (
    DigestChallenge,
    format_challenge,
    parse_authorization,
    verify_authorization,
)
from sipcore.events import Event
from sipcore.message import Request, parse_message
from sipcore.replies import make_response
from sipcore.user_agent import UserAgent

Drop = Callable[[bytes], bool]


class Peer(Protocol):
    def receive_message(self, data: bytes, now: float) -> None: ...

    def messages_to_send(self, now: float | None = None) -> list[bytes]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


def never(_: bytes) -> bool:
    return False


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def drop_matching(prefix: str, times: int = 1_000_000) -> Drop:
    """Drop up to ``times`` messages whose first line starts with ``prefix``."""
    left = [times]

    def drop(data: bytes) -> bool:
        if left[0] > 0 and first_line(data).startswith(prefix):
            left[0] -= 1
            return True
        return False

    return drop


@dataclass
class Link:
    """Two peers and the wire between them."""

    a: Peer
    b: Peer
    drop_ab: Drop = never
    drop_ba: Drop = never
    now: float = 0.0
    sent_ab: list[bytes] = field(default_factory=list)
    sent_ba: list[bytes] = field(default_factory=list)

    def pump(self) -> None:
        """Deliver everything queued, both ways, until both sides are quiet."""
        moved = True
        while moved:
            moved = False
            for src, dst, drop, log in (
                (self.a, self.b, self.drop_ab, self.sent_ab),
                (self.b, self.a, self.drop_ba, self.sent_ba),
            ):
                for data in src.messages_to_send(self.now):
                    moved = True
                    log.append(data)
                    if not drop(data):
                        dst.receive_message(data, self.now)

    def next_timer(self) -> float | None:
        timers = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
        return min(timers) if timers else None

    def advance(self, until: float) -> None:
        """Deliver, then fire timers in order up to ``until`` (virtual time)."""
        self.pump()
        while (t := self.next_timer()) is not None and t <= until:
            self.now = max(self.now, t)
            self.a.handle_timer(self.now)
            self.b.handle_timer(self.now)
            self.pump()
        if until != float("inf"):
            self.now = max(self.now, until)

    def settle(self) -> None:
        """Advance until no timer is armed at all; ``now`` stays at the last timer fired."""
        self.advance(float("inf"))


def events(ua: UserAgent) -> list[Event]:
    out: list[Event] = []
    while (event := ua.next_event()) is not None:
        out.append(event)
    return out


T = TypeVar("T")


def of_type(items: list[Event], kind: type[T]) -> list[T]:
    return [e for e in items if isinstance(e, kind)]


class TestRegistrar:
    """A registrar that challenges every REGISTER without valid credentials (401)."""

    __test__ = False  # not a test class

    def __init__(
        self,
        users: dict[str, str],
        realm: str = "example.com",
        *,
        min_expires: int | None = None,
        grant: int | None = None,
    ) -> None:
        self.users = users
        self.realm = realm
        self.min_expires = min_expires
        self.grant = grant
        self.outbox: list[bytes] = []
        self.received: list[Request] = []
        self.bindings: dict[str, str] = {}
        self._n = 0

    def receive_message(self, data: bytes, now: float) -> None:
        request = parse_message(data)
        assert isinstance(request, Request)
        self.received.append(request)
        auth = request.headers.get("authorization")
        if auth is None or not self._valid(request, auth):
            self._n += 1
            response = make_response(request, 401, to_tag="reg")
            challenge = DigestChallenge(realm=self.realm, nonce=f"nonce{self._n}", qop=("auth",))
            response.headers.add("WWW-Authenticate", format_challenge(challenge))
            self.outbox.append(bytes(response))
            return
        asked = request.expires if request.expires is not None else 3600
        if self.min_expires is not None and 0 < asked < self.min_expires:
            response = make_response(request, 423, to_tag="reg")
            response.headers.add("Min-Expires", str(self.min_expires))
            self.outbox.append(bytes(response))
            return
        granted = min(asked, self.grant) if self.grant is not None else asked
        response = make_response(request, 200, to_tag="reg")
        contact = request.headers.get("contact")
        if granted and contact is not None:
            self.bindings[request.to.uri.__str__()] = contact
            response.headers.add("Contact", f"{contact.split(';expires=')[0]};expires={granted}")
        else:
            self.bindings.pop(str(request.to.uri), None)
        self.outbox.append(bytes(response))

    def _valid(self, request: Request, value: str) -> bool:
        credentials = parse_authorization(value)
        password = self.users.get(credentials.username)
        if password is None:
            return False
        return verify_authorization(credentials, password, request.method, request.body)

    def messages_to_send(self, now: float | None = None) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None
