"""The sans-IO SIP user agent: one account, one flow, any number of calls.

The shape is aioquic's ``QuicConnection``::

    ua = UserAgent(config)
    ua.register(now=t)                       # actions queue work
    ua.receive_message(data, now=t)          # one whole SIP message (or keepalive)
    ua.handle_timer(now=t)                   # when get_timer() says
    for data in ua.messages_to_send(now=t):  # what to transmit, in order
        ...
    deadline = ua.get_timer()                # absolute, in the caller's clock, or None
    while (event := ua.next_event()) is not None:
        ...

Actions raise ``LocalProtocolError`` (state unchanged, nothing queued) when they are
not allowed. ``receive_message`` never raises for anything the peer sends: malformed
or unexpected messages are answered (400, 416, 420, 481, 482, 491, 501...) or dropped,
and reported as ``MessageDiscarded``; other calls are not disturbed.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from sipcore.address import NameAddress
from sipcore.call import Call, CallHost, NoticeHandler
from sipcore.call_state import CallState
from sipcore.config import UserAgentConfig
from sipcore.digest import (
    DigestAuthorization,
    DigestSession,
    authorization_header_name,
    challenge_header_name,
    parse_challenges,
)
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.events import (
    EndReason,
    Event,
    FlowFailed,
    KeepAliveAnswered,
    MessageDiscarded,
    RegistrationSent,
)
from sipcore.framing import PING, PONG, KeepAlive, keepalive_kind
from sipcore.headers import Headers
from sipcore.ids import IdFactory, SecureIds
from sipcore.message import Request, Response, parse_message, salvage_headers
from sipcore.params import quote
from sipcore.registration import Registration, RegistrationState
from sipcore.replies import make_response, stateless_reply
from sipcore.transactions import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Input,
    Notice,
    NoticeKind,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    Transaction,
    client_key,
    client_key_of,
    server_key,
)
from sipcore.uri import SipUri, Uri, parse_uri

__all__ = ["UserAgent"]

logger = logging.getLogger(__name__)

# RFC 3261 and the extensions whose methods we recognise; anything else gets 501.
KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE",
        "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE", "PRACK", "PUBLISH",
    }
)  # fmt: skip
# Methods that make sense only inside a dialog: out of one they get 481 (§12.2.2).
DIALOG_ONLY = frozenset({"BYE", "INFO", "UPDATE", "REFER", "PRACK"})


class UserAgent(CallHost):
    """A SIP user agent with no I/O and no clock.

    Args:
        config: the account and its settings.
        ids: where branches, tags, Call-IDs and cnonces come from (tests pass
            ``SequentialIds``).
    """

    def __init__(self, config: UserAgentConfig, *, ids: IdFactory | None = None) -> None:
        self._config = config
        self._ids: IdFactory = ids or SecureIds()
        # What to send, or None while nothing is queued: no list is left behind by each
        # drain for an idle phone to hold.
        self._outbox: list[bytes] | None = None
        # A queue only while events wait: an empty deque is 760 bytes, and a fleet's
        # idle phones have none waiting.
        self._events: deque[Event] | None = None
        self._client: dict[tuple[str, ...], tuple[Transaction, NoticeHandler]] = {}
        self._server: dict[tuple[str, ...], Transaction] = {}
        self._calls: dict[str, Call] = {}
        self._local_host = config.local_host or f"{self._ids.token()}.invalid"
        self._contact = self._build_contact()
        self._www = self._digest_session()
        self._proxy: DigestSession | None = None  # made at the first 407 (rare)
        self._registration = Registration(
            aor=NameAddress(config.aor, config.display_name),
            registrar=config.registrar_uri,
            contact=self._registration_contact(),
            call_id=self._ids.call_id(),
            from_tag=self._ids.tag(),
            expires=config.register_expires,
            refresh_fraction=config.refresh_fraction,
            extra_headers=self._common_headers(register=True),
        )
        self._reg_generation = 0
        self._reregister_on_connect = False
        self._connected = True
        self._last_received: float | None = None
        self._last_sent: float | None = None
        self._ping_sent_at: float | None = None

    # ================================================================ inspection

    @property
    def config(self) -> UserAgentConfig:
        """The configuration (frozen)."""
        return self._config

    @property
    def ids(self) -> IdFactory:
        """The id factory."""
        return self._ids

    @property
    def contact(self) -> NameAddress:
        """Our Contact for dialogs (RFC 7118 §5.2 ``.invalid`` host on WebSocket)."""
        return self._contact

    @property
    def registration_state(self) -> RegistrationState:
        """Where our registration stands."""
        return self._registration.state

    @property
    def registration_expires(self) -> int | None:
        """The expiry the registrar granted, while registered."""
        return self._registration.granted

    def call(self, call_id: str) -> Call:
        """The live call with this Call-ID.

        Raises:
            LocalProtocolError: there is no such call (it may have ended).
        """
        call = self._calls.get(call_id)
        if call is None:
            raise LocalProtocolError(f"no call with Call-ID {call_id!r}")
        return call

    @property
    def calls(self) -> dict[str, Call]:
        """Live calls by Call-ID (a copy)."""
        return dict(self._calls)

    # ================================================================ registration

    def register(self, now: float, expires: int | None = None) -> None:
        """Send REGISTER (or refresh now if registered). Queues a message.

        Raises:
            LocalProtocolError: a (un)registration is already in flight.
        """
        request = self._registration.register(expires)
        self._reregister_on_connect = True
        self._send_register(request, now)

    def unregister(self, now: float) -> None:
        """Send REGISTER with expires 0 to remove our binding. Queues a message.

        Raises:
            LocalProtocolError: not registered or registering.
        """
        request = self._registration.unregister()
        self._reregister_on_connect = False
        self._send_register(request, now)

    def _send_register(self, request: Request, now: float) -> None:
        self._reg_generation += 1
        owner = _RegisterOwner(self, self._reg_generation, self._registration.asked)
        # Reuse the registrar's last nonce (nc+1) so refreshes and 423 retries need no new
        # challenge; a refused reuse is answered once more (DigestSession's NONCE_REPLACED).
        auth = None
        if self._www is not None and self._www.challenge is not None:
            auth = self._www.authorize(
                method="REGISTER", uri=str(request.uri), cnonce=self._ids.cnonce()
            )
            request.headers.set("Authorization", auth.header_value)
        self.send_request(request, now, owner, rebuild=owner.rebuild, auth=auth)

    def _on_register_notice(self, generation: int, notice: Notice, now: float) -> None:
        if generation != self._reg_generation:
            return  # an older REGISTER, superseded
        event: Event | None = None
        if notice.kind is NoticeKind.TIMEOUT:
            event = self._registration.on_failure(408, "Request Timeout")
        elif notice.kind is NoticeKind.TRANSPORT_ERROR:
            event = self._registration.on_failure(503, "Transport Error")
        elif isinstance(notice.message, Response) and notice.message.status_code >= 200:
            step = self._registration.on_final(notice.message, now)
            if step.request is not None:
                self._send_register(step.request, now)
            event = step.event
        if event is not None:
            self.emit(event)

    # ================================================================ calls

    def invite(
        self,
        target: str | Uri,
        now: float,
        body: bytes = b"",
        content_type: str = "application/sdp",
        headers: Iterable[tuple[str, str]] = (),
    ) -> str:
        """Place a call to ``target``; returns its Call-ID. Queues the INVITE.

        Args:
            target: a SIP URI (``sip:bob@example.com``) or a bare user (``bob``), which is
                taken in our own domain.
            now: the current time.
            body: the SDP offer (empty for a late offer).
            content_type: the body's type.
            headers: extra headers (names and values are checked for CR/LF).

        Raises:
            LocalProtocolError: bad target, or ``max_calls`` calls are already up.
        """
        uri = self._target_uri(target)
        if len(self._calls) >= self._config.max_calls:
            raise LocalProtocolError(f"already {len(self._calls)} call(s) up (max_calls)")
        call_id = self._ids.call_id()
        request = Request("INVITE", uri)
        h = request.headers
        for route in self._preloaded_route():
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        h.add("To", str(NameAddress(uri)))
        h.add(
            "From",
            str(NameAddress(self._config.aor, self._config.display_name).with_tag(self._ids.tag())),
        )
        h.add("Call-ID", call_id)
        h.add("CSeq", "1 INVITE")
        h.add("Contact", str(self._contact))
        for name, value in self._common_headers(register=False):
            h.add(name, value)
        for name, value in headers:
            h.add(name, value)
        request.set_body(body, content_type if body else None)
        call = Call.outgoing(self, request, now)
        self._calls[call_id] = call
        return call_id

    def ring(self, call_id: str, now: float, status: int = 180) -> None:
        """Send a provisional response to an incoming call. Queues a message."""
        self.call(call_id).ring(now, status)

    def answer(
        self, call_id: str, now: float, body: bytes, content_type: str = "application/sdp"
    ) -> None:
        """Accept an incoming call with 200 and the SDP answer. Queues a message."""
        self.call(call_id).answer(now, body, content_type)

    def reject(
        self, call_id: str, now: float, status: int = 486, reason: str | None = None
    ) -> None:
        """Refuse an incoming call. Queues a message."""
        self.call(call_id).reject(now, status, reason)

    def cancel(self, call_id: str, now: float) -> None:
        """Cancel an outgoing call before it is answered. May queue a CANCEL."""
        self.call(call_id).cancel(now)

    def bye(self, call_id: str, now: float) -> None:
        """Hang up an established call. Queues a BYE (or holds it until the ACK)."""
        self.call(call_id).bye(now)

    def hangup(
        self, call_id: str, now: float, reject_status: int = 486, reject_reason: str | None = None
    ) -> None:
        """End a call at any stage: reject, cancel or BYE. Queues a message."""
        self.call(call_id).hangup(now, reject_status, reject_reason)

    def reinvite(
        self, call_id: str, now: float, body: bytes, content_type: str = "application/sdp"
    ) -> None:
        """Send a re-INVITE with a new offer (hold, resume, ICE restart). Queues a message."""
        self.call(call_id).reinvite(now, body, content_type)

    def accept_reinvite(
        self, call_id: str, now: float, body: bytes, content_type: str = "application/sdp"
    ) -> None:
        """Answer the peer's pending re-INVITE/UPDATE with 200 and our answer. Queues a message."""
        self.call(call_id).accept_reinvite(now, body, content_type)

    def reject_reinvite(
        self, call_id: str, now: float, status: int = 488, reason: str | None = None
    ) -> None:
        """Refuse the peer's pending re-INVITE/UPDATE. Queues a message."""
        self.call(call_id).reject_reinvite(now, status, reason)

    def info(self, call_id: str, now: float, body: bytes, content_type: str) -> None:
        """Send INFO in the call's dialog (e.g. DTMF relay). Queues a message."""
        self.call(call_id).info(now, body, content_type)

    def _target_uri(self, target: str | Uri) -> SipUri:
        if isinstance(target, str):
            text = target.strip()
            if ":" not in text.split("@")[0]:
                text = f"sip:{text}" if "@" in text else f"sip:{text}@{self._config.aor.host_port}"
            try:
                uri = parse_uri(text)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"not a SIP target: {target!r} ({exc})") from None
        else:
            uri = target
        if not isinstance(uri, SipUri):
            raise LocalProtocolError(f"can only call sip: or sips: URIs, not {str(uri)!r}")
        return uri

    # ================================================================ flow

    def connection_lost(self, now: float) -> None:
        """The flow (WebSocket/TCP connection) died.

        Transactions on it fail, an incoming call not yet answered ends, the binding is
        reported ``Unregistered``; established calls keep their dialogs (a re-INVITE
        after reconnection refreshes the target). Pending output is dropped.
        """
        self._connected = False
        self._outbox = None
        self._ping_sent_at = None
        was = self._registration.state
        self._reg_generation += 1  # the in-flight REGISTER, if any, is void
        event = self._registration.flow_lost()
        if was is not RegistrationState.UNREGISTERED:
            self._reregister_on_connect = was is not RegistrationState.UNREGISTERING
        if event is not None:
            self.emit(event)
        for key, (tx, owner) in list(self._client.items()):
            notices = tx.transport_error(now)
            self._client.pop(key, None)
            for notice in notices:
                owner(notice, now)
        self._server.clear()
        for call in list(self._calls.values()):
            if call.state is CallState.INCOMING:
                call._end(EndReason.TRANSPORT_ERROR, None, None)
        self._outbox = None

    def connection_made(self, now: float) -> None:
        """A (new) flow is up: re-register if we were registered (RFC 5626 §4.4.1)."""
        self._connected = True
        self._last_received = now
        self._ping_sent_at = None
        if (
            self._reregister_on_connect
            and self._registration.state is RegistrationState.UNREGISTERED
        ):
            self.register(now)

    # ================================================================ driving

    def messages_to_send(self, now: float | None = None) -> list[bytes]:
        """Everything queued for the peer, in order; the queue is emptied.

        Args:
            now: when the caller is sending (used to schedule keepalives).
        """
        out = self._outbox
        if out is None:
            return []
        self._outbox = None
        if now is not None:
            self._last_sent = now
        return out

    def next_event(self) -> Event | None:
        """The oldest unread event, or ``None``."""
        events = self._events
        if events is None:
            return None
        event = events.popleft()
        if not events:
            self._events = None
        return event

    def get_timer(self) -> float | None:
        """The earliest deadline at which ``handle_timer`` must be called, or ``None``."""
        deadlines: list[float] = []
        for tx, _ in self._client.values():
            d = tx.next_deadline()
            if d is not None:
                deadlines.append(d)
        for tx in self._server.values():
            d = tx.next_deadline()
            if d is not None:
                deadlines.append(d)
        for call in self._calls.values():
            d = call.next_deadline()
            if d is not None:
                deadlines.append(d)
        if self._registration.refresh_at is not None:
            deadlines.append(self._registration.refresh_at)
        keepalive = self._keepalive_deadline()
        if keepalive is not None:
            deadlines.append(keepalive)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``. Nothing due: nothing happens (stale timers)."""
        for key, (tx, owner) in list(self._client.items()):
            if (d := tx.next_deadline()) is not None and d <= now:
                self._dispatch_client(key, tx, owner, tx.handle_timer(now), now)
        for key, tx in list(self._server.items()):
            if (d := tx.next_deadline()) is not None and d <= now:
                tx.handle_timer(now)
                if tx.terminated:
                    self._server.pop(key, None)
        for call in list(self._calls.values()):
            if (d := call.next_deadline()) is not None and d <= now:
                call.handle_timer(now)
        if self._registration.refresh_due(now):
            self.register(now)
        self._handle_keepalive(now)

    def receive_message(self, data: bytes, now: float) -> None:
        """Take one whole message (a WebSocket message or datagram) from the peer.

        Never raises for what the peer sent: see the module docstring.
        """
        self._last_received = now
        if self._ping_sent_at is not None:
            # Any traffic proves the flow is alive (RFC 5626 §4.4.1 uses the pong).
            self.emit(KeepAliveAnswered(now - self._ping_sent_at))
            self._ping_sent_at = None
        kind = keepalive_kind(data)
        if kind is KeepAlive.PING:
            self._queue(PONG)
            return
        if kind is KeepAlive.PONG or not data.strip(b"\r\n"):
            return
        try:
            message = parse_message(data, limits=self._config.limits)
        except RemoteProtocolError as exc:
            self._reject_unparseable(data, exc, now)
            return
        try:
            if isinstance(message, Response):
                self._receive_response(message, now)
            else:
                self._receive_request(message, data, now)
        except RemoteProtocolError as exc:
            # A header the TU needed turned out malformed: answer like a bad request.
            if isinstance(message, Request) and message.method != "ACK":
                self._answer_stateless(message.headers, exc.status_hint, str(exc), data)
            else:
                self._discard(str(exc), None, data)

    # ================================================================ keepalive

    def _keepalive_deadline(self) -> float | None:
        interval = self._config.keepalive_interval
        if interval is None or not self._connected:
            return None
        if self._ping_sent_at is not None:
            return self._ping_sent_at + self._config.keepalive_timeout
        last = max(self._last_received or 0.0, self._last_sent or 0.0)
        return last + interval

    def _handle_keepalive(self, now: float) -> None:
        deadline = self._keepalive_deadline()
        if deadline is None or now < deadline:
            return
        if self._ping_sent_at is not None:
            # RFC 5626 §4.4.1: "If a pong is not received within 10 seconds ... the flow
            # has failed."
            since = self._ping_sent_at
            self._ping_sent_at = None
            self._connected = False
            self.emit(FlowFailed(since))
            return
        self._queue(PING)
        self._ping_sent_at = now
        self._last_sent = now

    # ================================================================ CallHost

    def send_request(
        self,
        request: Request,
        now: float,
        owner: NoticeHandler,
        *,
        via: str | None = None,
        rebuild: Callable[[], Request] | None = None,
        auth: DigestAuthorization | None = None,
    ) -> None:
        """Send ``request`` in a new client transaction; its notices go to ``owner``.

        Args:
            request: complete but for Via (added here unless ``via`` is given).
            now: the current time.
            owner: told about responses, timeouts and transport errors.
            via: a Via to use as is (CANCEL reuses the INVITE's).
            rebuild: makes the next version of the request for an authenticated retry.
                Given it, a 401/407 is answered here (with the digest session) and the
                owner only hears of it when we give up.
            auth: the credentials ``request`` already carries, if any.
        """
        self._start_client(request, now, self._with_auth(owner, rebuild, auth), via)

    def _start_client(
        self, request: Request, now: float, owner: NoticeHandler, via: str | None
    ) -> None:
        branch = self._ids.branch()
        request.headers.prepend("Via", via if via is not None else self._via(branch))
        if via is not None:
            branch = request.via[0].branch or branch
        if "content-length" not in request.headers:
            request.headers.add("Content-Length", str(len(request.body)))
        key = client_key(branch, request.method)
        tx_class = (
            ClientInviteTransaction if request.method == "INVITE" else ClientNonInviteTransaction
        )
        tx = tx_class(key, request, self._queue, self._config.timers, self._config.reliable)
        self._client[key] = (tx, owner)
        if request.method == "REGISTER":
            self.emit(RegistrationSent(request, request.expires or 0))
        self._dispatch_client(key, tx, owner, tx.start(now), now)

    def _with_auth(
        self,
        owner: NoticeHandler,
        rebuild: Callable[[], Request] | None,
        rejected: DigestAuthorization | None,
    ) -> NoticeHandler:
        if rebuild is None:
            return owner
        return _Authenticating(self, owner, rebuild, rejected)

    def _on_auth_notice(
        self,
        handler: _Authenticating,
        notice: Notice,
        now: float,
    ) -> None:
        response = notice.message
        if isinstance(response, Response) and response.status_code in (401, 407):
            retry = handler.rebuild()
            auth = self.authorize(retry, response, handler.rejected)
            if auth is not None:
                retry_owner = _Authenticating(self, handler.owner, handler.rebuild, auth)
                self._start_client(retry, now, retry_owner, None)
                return
        handler.owner(notice, now)

    def authorize(
        self, retry: Request, response: Response, rejected: DigestAuthorization | None
    ) -> DigestAuthorization | None:
        """Put credentials answering ``response`` (401/407) on ``retry``; ``None`` to give up.

        Giving up happens when we have no password, nothing we can answer was offered,
        or the same credentials were already refused (RFC 3261 §22.2: no retry loop).
        """
        if response.status_code == 401:
            session = self._www
        else:
            session = self._proxy = self._proxy or self._digest_session()
        if session is None:
            return None
        try:
            challenges = parse_challenges(
                response.headers.get_all(challenge_header_name(response.status_code))
            )
        except RemoteProtocolError:
            return None
        decision = session.respond(challenges, rejected=rejected)
        if not decision.retry:
            return None
        auth = session.authorize(
            method=retry.method, uri=str(retry.uri), cnonce=self._ids.cnonce(), body=retry.body
        )
        retry.headers.set(authorization_header_name(response.status_code), auth.header_value)
        return auth

    def send_stateless(self, request: Request) -> None:
        """Send a request outside any transaction (the ACK for a 2xx, §17.1.1.3)."""
        request.headers.prepend("Via", self._via(self._ids.branch()))
        self._queue(bytes(request))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes as they are (a 2xx retransmission)."""
        self._queue(data)

    def respond(self, request: Request, response: Response, now: float) -> None:
        """Send ``response`` through the server transaction of ``request``."""
        key = server_key(request)
        tx = self._server.get(key)
        if tx is None:
            self._queue(bytes(response))
            return
        code = response.status_code
        if code < 200:
            event = Input.TU_1XX
        elif code < 300 and request.method == "INVITE":
            event = Input.TU_2XX
        else:
            event = Input.TU_FINAL
        tx.step(event, now, response)
        if tx.terminated:
            self._server.pop(key, None)

    def make_response(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        contact: bool = False,
    ) -> Response:
        """A response to ``request`` (§8.2.6); with ``contact`` our Contact, Allow and Supported."""
        response = make_response(request, status, reason, to_tag=to_tag)
        h = response.headers
        if contact:
            h.add("Contact", str(self._contact))
        if contact or status == 405 or request.method == "OPTIONS":
            h.add("Allow", ", ".join(self._config.allow))
        if contact or request.method == "OPTIONS":
            h.add("Supported", ", ".join(self._config.supported))
        return response

    def emit(self, event: Event) -> None:
        """Queue an event for ``next_event``."""
        events = self._events
        if events is None:
            events = self._events = deque()
        events.append(event)

    def abandon(self, request: Request) -> None:
        """Destroy the client transaction of ``request`` (RFC 3261 §9.1: an INVITE whose
        CANCEL got no final response within 64*T1)."""
        vias = request.via
        if vias and vias[0].branch:
            self._client.pop(client_key(vias[0].branch, request.method), None)

    def call_over(self, call: Call) -> None:
        """A call ended: forget it (its transactions finish on their own)."""
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]

    # ================================================================ receiving

    def _receive_response(self, response: Response, now: float) -> None:
        try:
            response.validate()
        except RemoteProtocolError as exc:
            # RFC 4475 §3.1.2.5: malformed responses are discarded silently.
            self._discard(f"malformed response: {exc}", None, b"")
            return
        key = client_key_of(response)
        entry = self._client.get(key) if key is not None else None
        if entry is None:
            call = self._calls.get(response.call_id)
            if call is not None and response.cseq.method == "INVITE" and response.is_success:
                # A 2xx retransmission after the INVITE transaction ended: re-ACK (§13.2.2.4).
                call._on_invite_notice(Notice(NoticeKind.MESSAGE, response), now)
            else:
                self._discard("response matches no transaction", None, b"")
            return
        tx, owner = entry
        code = response.status_code
        if code < 200:
            event = Input.RESPONSE_1XX
        elif code < 300 and isinstance(tx, ClientInviteTransaction):
            event = Input.RESPONSE_2XX
        else:
            event = Input.RESPONSE_FINAL
        assert key is not None
        self._dispatch_client(key, tx, owner, tx.step(event, now, response), now)

    def _dispatch_client(
        self,
        key: tuple[str, ...],
        tx: Transaction,
        owner: NoticeHandler,
        notices: list[Notice],
        now: float,
    ) -> None:
        if tx.terminated:
            self._client.pop(key, None)
        for notice in notices:
            if notice.kind is not NoticeKind.TERMINATED:
                owner(notice, now)

    def _receive_request(self, request: Request, data: bytes, now: float) -> None:
        request.validate()
        method = request.method
        if method == "ACK":
            self._receive_ack(request, now)
            return
        key = server_key(request)
        existing = self._server.get(key)
        if existing is not None:
            existing.step(Input.REQUEST_RETRANSMISSION, now)
            return
        tx_class = ServerInviteTransaction if method == "INVITE" else ServerNonInviteTransaction
        self._server[key] = tx_class(
            key, request, self._queue, self._config.timers, self._config.reliable
        )
        status = self._screen(request)
        if status is not None:
            code, reason, extra = status
            response = self.make_response(request, code, reason, to_tag=self._ids.tag())
            for name, value in extra:
                response.headers.add(name, value)
            self.respond(request, response, now)
            self._discard(reason or f"answered {code}", code, data)
            return
        if method == "INVITE":
            # §17.2.1: "the server transaction MUST generate a 100 (Trying) response".
            self.respond(request, self.make_response(request, 100), now)
        if method == "CANCEL":
            self._receive_cancel(request, key, now)
            return
        to_tag = request.to.tag
        if to_tag is not None:
            call = self._calls.get(request.call_id)
            if call is None or call.local_tag != to_tag:
                self.respond(request, self.make_response(request, 481), now)
                self._discard("in-dialog request for no dialog of ours", 481, data)
                return
            call.on_request(request, now)
            return
        self._receive_out_of_dialog(request, data, now)

    def _screen(self, request: Request) -> tuple[int, str | None, list[tuple[str, str]]] | None:
        """The checks of RFC 3261 §8.2.1-8.2.3, in the RFC's order; None if all pass."""
        method = request.method
        if not isinstance(request.uri, SipUri):
            # §8.2.2.1: "If the Request-URI uses a scheme not supported by the UAS, it
            # SHOULD reject the request with a 416 (Unsupported URI Scheme) response."
            return (416, None, [])
        if method not in KNOWN_METHODS:
            # §8.2.1 and RFC 4475 §3.1.1.2: an unknown method gets 501.
            return (501, None, [("Allow", ", ".join(self._config.allow))])
        if method not in self._config.allow and method != "CANCEL":
            return (405, None, [])
        if method != "CANCEL":
            unsupported = [
                tag for tag in request.tokens("require") if tag not in self._config.supported
            ]
            if unsupported:
                # §8.2.2.3: 420 (Bad Extension) listing them in Unsupported.
                return (420, None, [("Unsupported", ", ".join(unsupported))])
        if request.body:
            content_type = request.content_type
            encodings = [e.lower() for e in request.headers.values("content-encoding")]
            if (
                content_type is None
                or content_type.essence not in self._config.accept
                or any(e != "identity" for e in encodings)
            ):
                # §8.2.3: 415 with Accept listing what we take.
                return (415, None, [("Accept", ", ".join(self._config.accept))])
        if method == "INVITE" and "accept" in request.headers:
            accepted = {m.essence for m in request.typed("accept") or []}
            if accepted and not accepted & {"application/sdp", "application/*", "*/*"}:
                # RFC 4475 §3.3.15: we could only answer with SDP the caller refuses.
                return (406, None, [("Accept", "application/sdp")])
        return None

    def _receive_ack(self, ack: Request, now: float) -> None:
        tx = self._server.get(server_key(ack))
        if tx is not None:
            # The ACK for a non-2xx final shares the INVITE's branch (§17.1.1.3).
            tx.step(Input.ACK, now, ack)
            if tx.terminated:
                self._server.pop(server_key(ack), None)
            return
        # The ACK for a 2xx is its own transaction (§17.1.1.3): route it by dialog.
        call = self._calls.get(ack.call_id)
        if call is not None and call.local_tag == ack.to.tag:
            call.on_ack(ack, now)

    def _receive_cancel(self, cancel: Request, key: tuple[str, ...], now: float) -> None:
        # §9.2: the CANCEL matches the INVITE with the same branch and sent-by.
        invite_key = (*key[:-1], "INVITE")
        invite_tx = self._server.get(invite_key)
        call = self._calls.get(cancel.call_id)
        if invite_tx is None or call is None:
            # §8.2.6.2: "the UAS MUST add a tag to the To header field in the response".
            self.respond(cancel, self.make_response(cancel, 481, to_tag=self._ids.tag()), now)
            return
        self.respond(cancel, self.make_response(cancel, 200, to_tag=call.local_tag), now)
        call.on_cancel(now)

    def _receive_out_of_dialog(self, request: Request, data: bytes, now: float) -> None:
        method = request.method
        if method == "INVITE":
            self._receive_invite(request, data, now)
        elif method in DIALOG_ONLY:
            self.respond(request, self.make_response(request, 481, to_tag=self._ids.tag()), now)
            self._discard(f"{method} outside a dialog", 481, data)
        else:  # OPTIONS, NOTIFY (legacy unsolicited) and anything else we allow
            self.respond(request, self.make_response(request, 200, to_tag=self._ids.tag()), now)

    def _receive_invite(self, invite: Request, data: bytes, now: float) -> None:
        if invite.call_id in self._calls:
            # §8.2.2.2: a request with no To tag matching an ongoing transaction's From
            # tag, Call-ID and CSeq but another branch was merged: 482 (Loop Detected).
            self.respond(invite, self.make_response(invite, 482, to_tag=self._ids.tag()), now)
            self._discard("merged request", 482, data)
            return
        if not invite.contact:
            self.respond(
                invite,
                self.make_response(invite, 400, "Missing Contact", to_tag=self._ids.tag()),
                now,
            )
            self._discard("INVITE without Contact", 400, data)
            return
        active = sum(1 for c in self._calls.values() if c.state is not CallState.ENDED)
        if active >= self._config.max_calls:
            code, reason = self._config.busy_status
            self.respond(
                invite, self.make_response(invite, code, reason, to_tag=self._ids.tag()), now
            )
            self._discard(f"busy: {active} call(s) up (max_calls)", code, data)
            return
        self._calls[invite.call_id] = Call.incoming(self, invite, now)

    # ================================================================ errors

    def _reject_unparseable(self, data: bytes, exc: RemoteProtocolError, now: float) -> None:
        if data.lstrip(b"\r\n")[:4].upper() == b"SIP/":
            self._discard(f"malformed response: {exc}", None, data)  # §3.1.2.19: drop
            return
        headers = salvage_headers(data, limits=self._config.limits)
        if headers is None:
            self._discard(f"malformed request: {exc}", None, data)
            return
        self._answer_stateless(headers, exc.status_hint, str(exc), data)

    def _answer_stateless(self, headers: Headers, status: int, reason: str, data: bytes) -> None:
        response = stateless_reply(headers, status, self._ids.tag())
        if response is None:
            self._discard(reason, None, data)
            return
        self._queue(bytes(response))
        self._discard(reason, status, data)

    def _discard(self, reason: str, status: int | None, data: bytes) -> None:
        logger.debug("discarded: %s", reason)
        self.emit(MessageDiscarded(reason, status, data[:200]))

    # ================================================================ building

    def _queue(self, data: bytes) -> None:
        outbox = self._outbox
        if outbox is None:
            self._outbox = [data]
        else:
            outbox.append(data)

    def _via(self, branch: str) -> str:
        transport = self._config.transport.upper()
        host = self._local_host
        if self._config.local_port is not None:
            host = f"{host}:{self._config.local_port}"
        # RFC 3581 rport so a NAT'ed UDP client gets its responses.
        rport = ";rport" if transport == "UDP" else ""
        return f"SIP/2.0/{transport} {host};branch={branch}{rport}"

    def _build_contact(self) -> NameAddress:
        config = self._config
        params: list[tuple[str, str | None]] = []
        if config.transport != "udp":
            params.append(("transport", config.transport))
        if config.reg_id is not None:
            # RFC 5626 §5.4: "ob" in the Contact URI asks for outbound behaviour.
            params.append(("ob", None))
        uri = SipUri(
            host=self._local_host,
            user=config.contact_user or self._ids.token(),
            port=config.local_port,
            params=tuple(params),
        )
        return NameAddress(uri, config.display_name)

    def _registration_contact(self) -> NameAddress:
        contact = self._contact
        if self._config.reg_id is None:
            return contact
        # RFC 5626 §4.2: +sip.instance and reg-id on the REGISTER Contact.
        instance = self._config.instance_id or f"urn:uuid:{self._ids.uuid()}"
        contact = contact.with_param("reg-id", str(self._config.reg_id))
        return contact.with_param("+sip.instance", quote(f"<{instance}>"))

    def _preloaded_route(self) -> list[str]:
        proxy = self._config.outbound_proxy
        if proxy is None:
            return []
        if not proxy.lr:
            proxy = proxy.with_params((*proxy.params, ("lr", None)))
        return [f"<{proxy}>"]

    def _common_headers(self, *, register: bool) -> tuple[tuple[str, str], ...]:
        headers: list[tuple[str, str]] = (
            [("Route", r) for r in self._preloaded_route()] if register else []
        )
        headers += [
            ("Allow", ", ".join(self._config.allow)),
            ("Supported", ", ".join(self._config.supported)),
            ("User-Agent", self._config.user_agent),
        ]
        return tuple(headers)

    def _digest_session(self) -> DigestSession | None:
        password = self._config.password
        if password is None:
            return None
        return DigestSession(self._config.auth_username, password)


# The notice handlers of a request in flight are small slotted objects rather than
# closures: a closure costs a function and a cell per captured name, and a fleet keeps
# hundreds of REGISTERs in flight, each of whose objects the garbage collector scans.


class _RegisterOwner:
    """Hears the notices of one REGISTER (``generation``) and builds its retries."""

    __slots__ = ("_expires", "_generation", "_ua")

    def __init__(self, ua: UserAgent, generation: int, expires: int) -> None:
        self._ua = ua
        self._generation = generation
        self._expires = expires

    def __call__(self, notice: Notice, now: float) -> None:
        self._ua._on_register_notice(self._generation, notice, now)

    def rebuild(self) -> Request:
        """The same REGISTER with the next CSeq (for an authenticated retry, §22.2)."""
        return self._ua._registration.build(self._expires)


class _Authenticating:
    """Answers a 401/407 to a request with a retry carrying credentials (once per
    credentials: ``rejected`` are those the request carried); else tells ``owner``."""

    __slots__ = ("_ua", "owner", "rebuild", "rejected")

    def __init__(
        self,
        ua: UserAgent,
        owner: NoticeHandler,
        rebuild: Callable[[], Request],
        rejected: DigestAuthorization | None,
    ) -> None:
        self._ua = ua
        self.owner = owner
        self.rebuild = rebuild
        self.rejected = rejected

    def __call__(self, notice: Notice, now: float) -> None:
        self._ua._on_auth_notice(self, notice, now)
