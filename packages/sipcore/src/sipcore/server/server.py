"""The sans-IO local server: registrar + stateful proxy over many flows.

The shape is ``UserAgent``'s (aioquic's), made multi-flow::

    server = LocalServer(ServerConfig(domain="local.test"), users={"alice": "pw"})
    server.receive_message(flow, data, now=t)      # one message (or keepalive) from a flow
    server.flow_closed(flow, now=t)                # a connection went away
    server.handle_timer(now=t)                     # when get_timer() says
    for flow, data in server.messages_to_send():   # what to send, and over which flow
        ...
    deadline = server.get_timer()
    while (event := server.next_event()) is not None:
        ...

What it does, and the suite's Kamailio (``tests/kamailio/kamailio.cfg.tmpl``) does too:
digest-authenticated REGISTER (401) binding Contacts to the flow they came over (RFC
5626); new requests from our own users authenticated with 407; requests for our users
forked statefully to every registered flow (RFC 3261 §16), Record-Routed with a flow
token in each of two Record-Route entries (one per side); in-dialog requests
loose-routed back through those tokens (§16.4); CANCEL (§16.10); OPTIONS to the server
answered 200; 404 for an unknown user, 480 for one not registered, 483 when Max-Forwards
runs out; malformed requests answered 400 or dropped, never raised.

It is a development server. It serves one domain, forwards nowhere outside it (a
foreign Request-URI or Route gets 403), does no DNS and opens no connection (a target is
reachable only over a flow it registered on), forwards stray responses nowhere (no
stateless response forwarding), keeps UDP peers' flow tokens for its lifetime, and does
not aggregate challenges from several branches (§16.7 step 7).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping

from sipcore.errors import LocalProtocolError, RemoteProtocolError, SipError
from sipcore.framing import PONG, KeepAlive, keepalive_kind
from sipcore.headers import Headers
from sipcore.ids import IdFactory, SecureIds
from sipcore.message import Request, Response, parse_message, salvage_headers
from sipcore.replies import make_response, stateless_reply
from sipcore.server.auth import DigestGuard
from sipcore.server.config import ServerConfig
from sipcore.server.events import (
    ContactUnbound,
    MessageRejected,
    RequestForwarded,
    ServerEvent,
    UnbindReason,
)
from sipcore.server.flow import Flow
from sipcore.server.location import Binding, LocationService
from sipcore.server.proxy import RECORD_ROUTE_METHODS, Branch, ResponseContext, best_response
from sipcore.server.registrar import SUPPORTED, Registrar
from sipcore.server.routing import Routing, pop_first_value, stamp_via
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
from sipcore.uri import SipUri, Uri, unescape

__all__ = ["LocalServer", "ALLOW"]

logger = logging.getLogger(__name__)

ALLOW = (
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "REFER",
    "NOTIFY", "SUBSCRIBE", "MESSAGE", "PRACK",
)  # fmt: skip
"""What the OPTIONS answer lists: REGISTER and OPTIONS for us, the rest we forward."""

# Kamailio's route[AUTH] leaves these alone: they belong to a transaction already
# authenticated (RFC 3261 §22.1: "CANCEL ... cannot be challenged"; ACK likewise).
_UNAUTHENTICATED = frozenset({"ACK", "CANCEL", "PRACK"})

NoticeHandler = Callable[[Notice, float], None]


class LocalServer:
    """A registrar and stateful proxy for one domain, with no I/O and no clock.

    Args:
        config: the domain, listening ports (for Via and Record-Route) and limits.
        users: clear username -> digest password (never logged).
        ids: where branches, tags, nonces and flow tokens come from (tests pass
            ``SequentialIds``).
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        users: Mapping[str, str] | None = None,
        *,
        ids: IdFactory | None = None,
    ) -> None:
        self._config = config or ServerConfig()
        self._ids: IdFactory = ids or SecureIds()
        self._outbox: list[tuple[Flow, bytes]] = []
        self._events: deque[ServerEvent] = deque()
        self._location = LocationService()
        self._guard = DigestGuard(
            self._config.digest_realm,
            users or {},
            self._config.algorithms,
            self._config.nonce_lifetime,
            self._ids,
        )
        self._registrar = Registrar(self._config, self._location, self._ids, self._events.append)
        self._server: dict[tuple[str, ...], Transaction] = {}
        self._client: dict[tuple[str, ...], tuple[Transaction, Flow, NoticeHandler]] = {}
        self._contexts: dict[tuple[str, ...], ResponseContext] = {}
        self._routing = Routing(self._config, self._ids)

    # ================================================================ inspection

    @property
    def config(self) -> ServerConfig:
        """The configuration (frozen)."""
        return self._config

    def bindings(self, user: str | None = None) -> list[Binding]:
        """Current bindings of ``user`` (of everyone if ``None``), oldest first."""
        return self._location.bindings(user)

    @property
    def flows(self) -> list[Flow]:
        """Flows heard from and not closed."""
        return self._routing.flows

    @property
    def transactions(self) -> int:
        """Transactions and response contexts alive (0 once every exchange is over)."""
        return len(self._server) + len(self._client) + len(self._contexts)

    # ================================================================ driving

    def receive_message(self, flow: Flow, data: bytes, now: float) -> None:
        """Take one whole message (a WebSocket message, datagram or framed message).

        A CRLF CRLF keepalive is answered with CRLF (RFC 5626 §3.5.1). Never raises for
        what the peer sent: malformed requests are answered (400...) or dropped, stray
        responses dropped, each reported as ``MessageRejected``. May queue messages
        (for any flow) and events; registers, refreshes or removes bindings; starts,
        advances or ends transactions.

        Args:
            flow: where it came from (first sight of a flow gives it a flow token).
            data: the bytes of one message.
            now: the current time.
        """
        self._routing.learn(flow)
        kind = keepalive_kind(data)
        if kind is KeepAlive.PING:
            # RFC 5626 §3.5.1: "the server ... MUST respond with a single CRLF".
            self._queue(flow, PONG)
            return
        if kind is KeepAlive.PONG or not data.strip(b"\r\n"):
            return
        try:
            message = parse_message(data, limits=self._config.limits)
        except RemoteProtocolError as exc:
            self._reject_unparseable(flow, data, exc)
            return
        try:
            if isinstance(message, Response):
                self._receive_response(flow, message, data, now)
            else:
                self._receive_request(flow, message, data, now)
        except SipError as exc:
            # A header read late turned out malformed (Remote), or it cannot be written
            # back into what we send (Local: e.g. a value our writers refuse).
            status = exc.status_hint if isinstance(exc, RemoteProtocolError) else 500
            if isinstance(message, Request) and message.method != "ACK":
                self._answer_stateless(flow, message.headers, status, str(exc), data)
            else:
                self._reject(flow, str(exc), None, data)
        finally:
            self._sweep()

    def flow_closed(self, flow: Flow, now: float) -> None:
        """A connection closed (or a UDP peer is to be forgotten).

        Its bindings go (``ContactUnbound`` with ``FLOW_CLOSED``, RFC 5626 §5.3), its
        queued output is dropped, transactions towards it fail (their callers get 480),
        and requests that came over it are cancelled downstream. May queue CANCELs and
        responses for other flows. Its flow token stops naming it (in-dialog requests
        routed through it get 430 unless the phone registered again elsewhere).

        Args:
            flow: the flow that closed (unknown flows are ignored).
            now: the current time.
        """
        self._routing.forget(flow)
        for binding in self._location.remove_flow(flow):
            self._events.append(
                ContactUnbound(binding.aor, binding.contact, flow, UnbindReason.FLOW_CLOSED)
            )
        prefix = str(flow)
        for key in [k for k in self._server if k[0] == prefix]:
            del self._server[key]
        for context in list(self._contexts.values()):
            if context.source == flow and not context.final_sent:
                # Nobody is left to answer: stop the phones ringing (§16.10's CANCEL).
                context.final_sent = True
                for branch in context.branches:
                    self._cancel_branch(branch, now, "")
        for key, (tx, target, owner) in list(self._client.items()):
            if target == flow:
                self._dispatch(key, tx, owner, tx.transport_error(now), now)
                self._client.pop(key, None)
        self._outbox = [(f, d) for f, d in self._outbox if f != flow]
        self._sweep()

    def messages_to_send(self) -> list[tuple[Flow, bytes]]:
        """Everything queued, as ``(flow, data)`` in order; the queue is emptied."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> ServerEvent | None:
        """The oldest unread event, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline at which ``handle_timer`` must be called, or ``None``."""
        deadlines = [
            d
            for d in (
                *(tx.next_deadline() for tx in self._server.values()),
                *(tx.next_deadline() for tx, _, _ in self._client.values()),
                *(b.timer_c for c in self._contexts.values() for b in c.branches),
                self._location.next_expiry(),
            )
            if d is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``: transactions, Timer C, binding expiry.

        Nothing due: nothing happens (stale timers are ignored). May queue messages and
        events (``ContactUnbound`` with ``EXPIRED``).
        """
        for key, (tx, _, owner) in list(self._client.items()):
            if (d := tx.next_deadline()) is not None and d <= now:
                self._dispatch(key, tx, owner, tx.handle_timer(now), now)
        for key, server_tx in list(self._server.items()):
            if (d := server_tx.next_deadline()) is not None and d <= now:
                server_tx.handle_timer(now)
                if server_tx.terminated:
                    self._server.pop(key, None)
        for binding in self._location.expire(now):
            self._events.append(
                ContactUnbound(binding.aor, binding.contact, binding.flow, UnbindReason.EXPIRED)
            )
        for context in list(self._contexts.values()):
            for branch in context.branches:
                if branch.timer_c is not None and branch.timer_c <= now:
                    self._timer_c(context, branch, now)
        self._sweep()

    # ================================================================ requests

    def _receive_request(self, flow: Flow, request: Request, data: bytes, now: float) -> None:
        request.validate()
        stamp_via(request, flow)
        key = (str(flow), *server_key(request))
        if request.method == "ACK":
            self._receive_ack(flow, request, key, data, now)
            return
        existing = self._server.get(key)
        if existing is not None:
            existing.step(Input.REQUEST_RETRANSMISSION, now)
            return
        tx_class = (
            ServerInviteTransaction if request.method == "INVITE" else ServerNonInviteTransaction
        )
        self._server[key] = tx_class(
            key, request, self._sender(flow), self._config.timers, flow.reliable
        )
        try:
            if request.method == "CANCEL":
                self._receive_cancel(flow, request, key, data, now)
            else:
                self._route(flow, request, key, data, now)
        except SipError:
            # Answered statelessly by the caller of this method: a transaction left
            # without its response would never end.
            if key not in self._contexts:
                self._server.pop(key, None)
            raise

    def _route(
        self, flow: Flow, request: Request, key: tuple[str, ...], data: bytes, now: float
    ) -> None:
        """RFC 3261 §16.3-16.5 for a request that is not ACK or CANCEL."""
        method = request.method
        if not isinstance(request.uri, SipUri):
            # §16.3 step 2: "If the Request-URI has a URI whose scheme is not understood
            # by the proxy, the proxy SHOULD reject the request with a 416".
            self._refuse(flow, key, request, 416, now=now, data=data)
            return
        popped, token = self._routing.pop_own_routes(request)
        if request.route:
            # A next hop that is not us: we relay nowhere (a development server).
            self._refuse(flow, key, request, 403, now=now, reason="Relaying Forbidden", data=data)
            return
        in_dialog = request.to.tag is not None
        uri = request.uri
        assert isinstance(uri, SipUri)
        if not in_dialog and method == "REGISTER":
            if self._routing.is_me(uri):
                self._register(flow, request, key, now)
            else:
                # §10.3 step 1: we forward REGISTER nowhere.
                self._refuse(flow, key, request, 403, now=now, reason="Not our domain", data=data)
            return
        if not in_dialog and self._routing.is_me(uri) and not uri.user:
            self._answer_for_myself(flow, key, request, data, now)
            return
        max_forwards = request.max_forwards
        if max_forwards == 0:
            # §16.3 step 3: "If the request does not contain a Max-Forwards header field,
            # this check is passed. If the request contains a Max-Forwards header field
            # with a field value of zero (0), the element MUST NOT forward the request."
            self._refuse(flow, key, request, 483, now=now, data=data)
            return
        if request.tokens("proxy-require"):
            # §16.3 step 5: we support no proxy extension: 420 listing them all.
            unsupported = ", ".join(request.tokens("proxy-require"))
            self._refuse(
                flow, key, request, 420, now=now, data=data, extra=[("Unsupported", unsupported)]
            )
            return
        if in_dialog:
            self._route_in_dialog(flow, request, key, (popped, token), data=data, now=now)
            return
        if not self._routing.is_me(uri):
            self._refuse(flow, key, request, 403, now=now, reason="Relaying Forbidden", data=data)
            return
        if not self._authenticated(flow, request, key, now):
            return
        user = unescape(uri.user or "")
        if not self._guard.knows(user):
            self._refuse(flow, key, request, 404, now=now, data=data)
            return
        targets = self._location.targets(user)
        if not targets:
            self._refuse(flow, key, request, 480, now=now, data=data)
            return
        self._forward(
            flow,
            request,
            key,
            [(b.contact.uri, b.flow) for b in targets],
            now,
            record_route=method in RECORD_ROUTE_METHODS,
        )

    def _answer_for_myself(
        self, flow: Flow, key: tuple[str, ...], request: Request, data: bytes, now: float
    ) -> None:
        if request.method == "OPTIONS":
            # Keepalive/probe OPTIONS to the server itself (Kamailio's REQINIT: 200).
            response = self._make_response(request, 200)
            response.headers.add("Allow", ", ".join(ALLOW))
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Supported", ", ".join(SUPPORTED))
            self._respond(key, response, now)
        else:
            # The suite's Kamailio: a request for no user is "484 Address Incomplete".
            self._refuse(flow, key, request, 484, now=now, data=data)

    def _register(self, flow: Flow, request: Request, key: tuple[str, ...], now: float) -> None:
        response = self._registrar.precheck(request)
        if response is None:
            checked = self._guard.check(request, 401, now)
            if isinstance(checked, Response):
                response = checked
            else:
                response = self._registrar.register(request, flow, checked, now)
        self._respond(key, self._stamp(response), now)

    def _authenticated(
        self, flow: Flow, request: Request, key: tuple[str, ...], now: float
    ) -> bool:
        """Kamailio's route[AUTH] for a new request: our users prove who they are (407)."""
        if not self._config.authenticate_requests or request.method in _UNAUTHENTICATED:
            return True
        sender = request.from_.uri
        if not isinstance(sender, SipUri) or not self._routing.is_me(sender):
            return True  # from elsewhere: may only reach our users (checked by the caller)
        checked = self._guard.check(request, 407, now)
        if isinstance(checked, Response):
            self._respond(key, self._stamp(checked), now)
            return False
        if checked != unescape(sender.user or ""):
            # Kamailio's auth_check(..., 1): the From user must be the one authenticated.
            self._refuse(flow, key, request, 403, now=now, reason="Forbidden: From is not you")
            return False
        self._guard.strip(request, 407)
        return True

    def _route_in_dialog(
        self,
        flow: Flow,
        request: Request,
        key: tuple[str, ...],
        route: tuple[bool, str | None],
        *,
        data: bytes,
        now: float,
    ) -> None:
        popped, token = route
        if not popped:
            # The suite's Kamailio (route[WITHINDLG]): not loose-routed to us -> 404.
            self._refuse(flow, key, request, 404, now=now, reason="Not Here", data=data)
            return
        target = self._dialog_target(request, token)
        if isinstance(target, int):
            self._refuse(flow, key, request, target, now=now, data=data)
            return
        self._forward(flow, request, key, [(request.uri, target)], now, record_route=False)

    def _dialog_target(self, request: Request, token: str | None) -> Flow | int:
        """Where a loose-routed request goes: the flow of the token in our last Route,
        else the flow of whoever registered its Request-URI (a phone that reconnected),
        else 430 Flow Failed (RFC 5626 §5.3) or 404."""
        if token is not None and (flow := self._routing.flow(token)) is not None:
            return flow
        binding = self._location.by_target(request.uri)
        if binding is not None:
            return binding.flow
        return 430 if token is not None else 404

    def _receive_ack(
        self, flow: Flow, ack: Request, key: tuple[str, ...], data: bytes, now: float
    ) -> None:
        tx = self._server.get(key)
        if tx is not None:
            # The ACK for our own non-2xx final shares the INVITE's branch (§17.1.1.3):
            # hop by hop, it ends here.
            tx.step(Input.ACK, now, ack)
            if tx.terminated:
                self._server.pop(key, None)
            return
        # The ACK for a 2xx is a transaction of its own: route it like any in-dialog
        # request, statelessly (§16.11 "Stateless Proxy" behaviour for ACK).
        popped, token = self._routing.pop_own_routes(ack)
        if not popped or ack.route or ack.max_forwards == 0:
            self._reject(flow, "ACK matches nothing and routes nowhere", None, data)
            return
        target = self._dialog_target(ack, token)
        if isinstance(target, int):
            self._reject(flow, "ACK for a flow that is gone", None, data)
            return
        out = self._copy(ack, ack.uri)
        out.headers.prepend("Via", self._routing.via(target, self._ids.branch()))
        self._queue(target, bytes(out))
        self._events.append(RequestForwarded("ACK", ack.call_id, flow, target, str(ack.uri)))

    def _receive_cancel(
        self, flow: Flow, cancel: Request, key: tuple[str, ...], data: bytes, now: float
    ) -> None:
        # §9.2 / §16.10: the CANCEL matches the INVITE with the same branch and sent-by.
        invite_key = (*key[:-1], "INVITE")
        if invite_key not in self._server:
            # §16.10 lets us forward it statelessly; with no transaction to cancel there
            # is nowhere to send it (Kamailio drops it; we say so).
            self._refuse(flow, key, cancel, 481, now=now, data=data)
            return
        self._respond(key, self._make_response(cancel, 200), now)
        context = self._contexts.get(invite_key)
        if context is not None and not context.final_sent:
            # RFC 3326: a proxy copies the Reason of a CANCEL into the CANCELs it sends.
            reason = cancel.headers.get("reason") or ""
            for branch in context.branches:
                self._cancel_branch(branch, now, reason)

    # ================================================================ forwarding

    def _forward(
        self,
        source: Flow,
        request: Request,
        key: tuple[str, ...],
        targets: list[tuple[Uri, Flow]],
        now: float,
        *,
        record_route: bool,
    ) -> None:
        """§16.6: one copy per target, each in its own client transaction."""
        context = ResponseContext(key, source, request)
        self._contexts[key] = context
        if context.invite:
            # §16.2: a stateful proxy answers an INVITE with 100 (Trying) itself.
            self._respond(key, make_response(request, 100), now)
        for uri, target in targets:
            out = self._copy(request, uri)
            if record_route:
                # §16.6 step 4, twice (Kamailio's enable_double_rr): the second entry
                # faces the caller, the first the callee. Each carries the flow token of
                # its own side, so whichever end sends in the dialog, the last of our
                # Routes it sends names the flow of the other end (RFC 5626 §5.3).
                out.headers.prepend("Record-Route", self._routing.record_route(source))
                out.headers.prepend("Record-Route", self._routing.record_route(target))
            branch_id = self._ids.branch()
            out.headers.prepend("Via", self._routing.via(target, branch_id))
            tx_key = client_key(branch_id, out.method)
            tx_class = (
                ClientInviteTransaction if out.method == "INVITE" else ClientNonInviteTransaction
            )
            tx = tx_class(tx_key, out, self._sender(target), self._config.timers, target.reliable)
            branch = Branch(tx, target)
            if context.invite:
                branch.timer_c = now + self._config.timer_c
            context.branches.append(branch)
            owner = self._branch_owner(context, branch)
            self._client[tx_key] = (tx, target, owner)
            self._events.append(
                RequestForwarded(out.method, request.call_id, source, target, str(uri))
            )
            self._dispatch(tx_key, tx, owner, tx.start(now), now)

    def _copy(self, request: Request, uri: Uri) -> Request:
        """§16.6 steps 1-3: a copy with the new Request-URI and Max-Forwards one less."""
        out = Request(request.method, uri, request.headers.copy(), request.body)
        max_forwards = request.max_forwards
        out.headers.set("Max-Forwards", str(70 if max_forwards is None else max_forwards - 1))
        if "content-length" not in out.headers:
            out.headers.add("Content-Length", str(len(out.body)))
        return out

    def _branch_owner(self, context: ResponseContext, branch: Branch) -> NoticeHandler:
        def owner(notice: Notice, now: float) -> None:
            if notice.kind is NoticeKind.MESSAGE and isinstance(notice.message, Response):
                self._on_response(context, branch, notice.message, now)
            elif notice.kind is NoticeKind.TIMEOUT:
                # §16.7: a timeout "MUST [be treated] as if it had received a 408".
                self._on_final(context, branch, self._synthetic(context, 408), now)
            elif notice.kind is NoticeKind.TRANSPORT_ERROR:
                # §16.9: "as if it had received a 503"; the callee's flow died, so we
                # say what that means to the caller.
                self._on_final(context, branch, self._synthetic(context, 480), now)

        return owner

    def _on_response(
        self, context: ResponseContext, branch: Branch, response: Response, now: float
    ) -> None:
        """§16.7 for one response on one branch."""
        upstream = Response(
            response.status_code, response.reason, response.headers.copy(), response.body
        )
        # §16.7 step 3: "The proxy removes the topmost Via header field value".
        pop_first_value(upstream, "via")
        code = response.status_code
        if code < 200:
            branch.provisional = True
            if branch.timer_c is not None:
                # §16.7 step 2: "the proxy MUST reset timer C" on a provisional response.
                branch.timer_c = now + self._config.timer_c
            if branch.cancel_reason is not None and not branch.cancel_sent:
                self._send_cancel(branch, now)
            if code > 100 and not context.final_sent:
                # §16.7 step 5: "Any provisional response other than a 100 (Trying)
                # MUST be forwarded upstream immediately."
                self._respond(context.key, upstream, now)
            return
        if code < 300:
            branch.final = upstream
            branch.timer_c = None
            if context.invite or not context.final_sent:
                # §16.7 step 5: "Any 2xx response to an INVITE request MUST be forwarded
                # upstream immediately" - every one of them (forked dialogs).
                self._respond(context.key, upstream, now)
            context.final_sent = True
            if context.invite:
                # §16.7 step 10 / RFC 3326: cancel the branches still ringing.
                for other in context.branches:
                    self._cancel_branch(other, now, 'SIP;cause=200;text="Call completed elsewhere"')
            return
        self._on_final(context, branch, upstream, now)

    def _on_final(
        self, context: ResponseContext, branch: Branch, response: Response, now: float
    ) -> None:
        if branch.final is not None:
            return
        branch.final = response
        branch.timer_c = None
        if response.status_code >= 600 and context.invite:
            # §16.7 step 5 ("If a 6xx ... the proxy ... SHOULD cancel all client pending
            # transactions"): nobody else will do.
            for other in context.branches:
                self._cancel_branch(other, now, "")
        if context.final_sent or any(b.pending for b in context.branches):
            return
        best = best_response([b.final for b in context.branches if b.final is not None])
        if best.status_code == 503:
            # §16.7 step 6: a 503 is not forwarded upstream; "the proxy SHOULD ...
            # generate a 500 (Server Internal Error) response".
            best = self._make_response(context.request, 500)
        context.final_sent = True
        self._respond(context.key, best, now)

    def _synthetic(self, context: ResponseContext, status: int) -> Response:
        return self._make_response(context.request, status)

    def _cancel_branch(self, branch: Branch, now: float, reason: str) -> None:
        """§9.1 via §16.10: cancel a pending branch; the CANCEL waits for a provisional."""
        if not branch.pending or branch.cancel_reason is not None:
            return
        branch.cancel_reason = reason
        if branch.provisional and branch.tx.request.method == "INVITE":
            self._send_cancel(branch, now)

    def _send_cancel(self, branch: Branch, now: float) -> None:
        # §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
        # fields in the CANCEL request MUST be identical to those in the request being
        # cancelled ... A CANCEL constructed by a client MUST have only a single Via
        # header field value matching the top Via value in the request being cancelled."
        invite = branch.tx.request
        h = invite.headers
        cancel = Request("CANCEL", invite.uri)
        cancel.headers.add("Via", str(invite.via[0]))
        for route in h.get_all("route"):
            cancel.headers.add("Route", route)
        cancel.headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            cancel.headers.add(name, h.get(name) or "")
        cancel.headers.add("CSeq", f"{invite.cseq.seq} CANCEL")
        if branch.cancel_reason:
            cancel.headers.add("Reason", branch.cancel_reason)
        cancel.headers.add("Content-Length", "0")
        branch.cancel_sent = True
        key = client_key(invite.via[0].branch or "", "CANCEL")
        tx = ClientNonInviteTransaction(
            key, cancel, self._sender(branch.flow), self._config.timers, branch.flow.reliable
        )

        def owner(notice: Notice, now: float) -> None:
            """The 200 (or 481) to our CANCEL tells the caller nothing (§16.10)."""

        self._client[key] = (tx, branch.flow, owner)
        self._dispatch(key, tx, owner, tx.start(now), now)

    def _timer_c(self, context: ResponseContext, branch: Branch, now: float) -> None:
        # §16.8: "If timer C should fire, the proxy MUST either reset the timer with any
        # value it chooses, or terminate the client transaction. If the client transaction
        # has received a provisional response, the proxy MUST generate a CANCEL request
        # matching that transaction. If the client transaction has not received a
        # provisional response, the proxy MUST behave as if the transaction received a
        # 408 (Request Timeout) response."
        if branch.provisional and not branch.cancel_sent:
            self._cancel_branch(branch, now, "")
            # Give the callee 64*T1 to answer the CANCEL with 487, then give up.
            branch.timer_c = now + self._config.timers.timeout
            return
        branch.timer_c = None
        self._client.pop(branch.tx.key, None)
        self._on_final(context, branch, self._synthetic(context, 408), now)

    # ================================================================ responses

    def _receive_response(self, flow: Flow, response: Response, data: bytes, now: float) -> None:
        try:
            response.validate()
        except RemoteProtocolError as exc:
            # RFC 4475 §3.1.2.5: a malformed response is discarded.
            self._reject(flow, f"malformed response: {exc}", None, data)
            return
        key = client_key_of(response)
        entry = self._client.get(key) if key is not None else None
        if entry is None or key is None:
            self._reject(flow, "response matches no transaction", None, data)
            return
        tx, _, owner = entry
        code = response.status_code
        if code < 200:
            event = Input.RESPONSE_1XX
        elif code < 300 and isinstance(tx, ClientInviteTransaction):
            event = Input.RESPONSE_2XX
        else:
            event = Input.RESPONSE_FINAL
        self._dispatch(key, tx, owner, tx.step(event, now, response), now)

    def _dispatch(
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

    # ================================================================ sending

    def _respond(self, key: tuple[str, ...], response: Response, now: float) -> None:
        """Send ``response`` through the server transaction ``key`` (gone: dropped)."""
        tx = self._server.get(key)
        if tx is None:
            logger.debug("no server transaction for %r: %r dropped", key, response)
            return
        code = response.status_code
        if code < 200:
            event = Input.TU_1XX
        elif code < 300 and isinstance(tx, ServerInviteTransaction):
            event = Input.TU_2XX
        else:
            event = Input.TU_FINAL
        try:
            tx.step(event, now, response)
        except LocalProtocolError:
            # §16.7: after the final response no other may go (but INVITE 2xx); a late
            # one is dropped, not an error of the caller's.
            logger.debug("server transaction %r refused %r", key, response)
            return
        if tx.terminated:
            self._server.pop(key, None)

    def _refuse(
        self,
        flow: Flow,
        key: tuple[str, ...],
        request: Request,
        status: int,
        *,
        now: float,
        reason: str | None = None,
        data: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """Answer ``request`` with an error of our own, and report it."""
        response = self._make_response(request, status, reason)
        for name, value in extra or ():
            response.headers.add(name, value)
        self._respond(key, response, now)
        self._reject(flow, f"{request.method} answered {status} {response.reason}", status, data)

    def _make_response(self, request: Request, status: int, reason: str | None = None) -> Response:
        """A response of our own (with our Server header)."""
        return self._stamp(make_response(request, status, reason, to_tag=self._ids.tag()))

    def _stamp(self, response: Response) -> Response:
        if self._config.server_header is not None and "server" not in response.headers:
            response.headers.add("Server", self._config.server_header)
        return response

    def _reject_unparseable(self, flow: Flow, data: bytes, exc: RemoteProtocolError) -> None:
        if data.lstrip(b"\r\n")[:4].upper() == b"SIP/":
            self._reject(flow, f"malformed response: {exc}", None, data)  # RFC 4475 §3.1.2.19
            return
        headers = salvage_headers(data, limits=self._config.limits)
        if headers is None:
            self._reject(flow, f"malformed request: {exc}", None, data)
            return
        self._answer_stateless(flow, headers, exc.status_hint, str(exc), data)

    def _answer_stateless(
        self, flow: Flow, headers: Headers, status: int, reason: str, data: bytes
    ) -> None:
        response = stateless_reply(headers, status, self._ids.tag())
        if response is None:
            self._reject(flow, reason, None, data)
            return
        self._queue(flow, bytes(self._stamp(response)))
        self._reject(flow, reason, status, data)

    def _reject(self, flow: Flow, reason: str, status: int | None, data: bytes) -> None:
        logger.debug("rejected from %s: %s", flow, reason)
        self._events.append(MessageRejected(flow, reason, status, data[:200]))

    def _queue(self, flow: Flow, data: bytes) -> None:
        if self._routing.knows(flow):  # else closed: nothing can reach it any more
            self._outbox.append((flow, data))

    def _sender(self, flow: Flow) -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            self._queue(flow, data)

        return send

    def _sweep(self) -> None:
        """Forget response contexts whose transactions have all ended."""
        for key, context in list(self._contexts.items()):
            if key in self._server:
                continue
            if all(b.tx.key not in self._client for b in context.branches):
                del self._contexts[key]
