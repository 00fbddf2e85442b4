"""One call: an INVITE session with its dialog, in either direction (RFC 3261 §13-15).

``Call`` holds what outlives a single transaction: the dialog, the 2xx retransmission
until ACK (§13.3.1.4), the ACK for 2xx retransmissions (§13.2.2.4), re-INVITE with the
§14.1 glare backoff, CANCEL (§9), BYE (§15), INFO (RFC 6086), UPDATE (RFC 3311) and REFER
(RFC 3515). It talks to the network only through its ``CallHost`` (the ``UserAgent``),
so it needs neither clock nor socket: every entry point takes ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from sipcore.address import NameAddress
from sipcore.call_state import TU_TRANSITIONS, CallAction, CallState, Direction
from sipcore.config import UserAgentConfig
from sipcore.dialog import Dialog
from sipcore.digest import DigestAuthorization
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallProgressed,
    EndReason,
    Event,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    ReferReceived,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
)
from sipcore.ids import IdFactory
from sipcore.message import Request, Response
from sipcore.transactions import Notice, NoticeKind

__all__ = ["Call", "CallHost"]

logger = logging.getLogger(__name__)

NoticeHandler = Callable[[Notice, float], None]


class CallHost(Protocol):
    """What a ``Call`` needs from its user agent."""

    @property
    def config(self) -> UserAgentConfig: ...

    @property
    def ids(self) -> IdFactory: ...

    @property
    def contact(self) -> NameAddress: ...

    def send_request(
        self,
        request: Request,
        now: float,
        owner: NoticeHandler,
        *,
        via: str | None = None,
        rebuild: Callable[[], Request] | None = None,
        auth: DigestAuthorization | None = None,
    ) -> None: ...

    def send_stateless(self, request: Request) -> None: ...

    def send_raw(self, data: bytes) -> None: ...

    def respond(self, request: Request, response: Response, now: float) -> None: ...

    def make_response(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        contact: bool = False,
    ) -> Response: ...

    def emit(self, event: Event) -> None: ...

    def abandon(self, request: Request) -> None: ...

    def call_over(self, call: Call) -> None: ...


class Call:
    """One call. Create with ``Call.outgoing`` or ``Call.incoming`` (the UA does)."""

    def __init__(
        self, host: CallHost, direction: Direction, invite: Request, state: CallState
    ) -> None:
        self.host = host
        self.direction = direction
        self.invite = invite
        """The INVITE that started the call (for outgoing calls, the last one sent)."""
        self.state = state
        self.call_id = invite.call_id
        self.dialog: Dialog | None = None
        self.local_tag: str = ""
        self.answer_response: Response | None = None
        """The 2xx that answered the call (either direction)."""
        self._over = False
        # Outgoing INVITE bookkeeping
        self._provisional_seen = False
        self._cancel_wanted = False
        self._cancel_give_up: float | None = None
        self._ack: Request | None = None
        # Incoming INVITE bookkeeping (§13.3.1.4 2xx retransmission, no-answer timer)
        self._ok: Response | None = None
        self._ok_bytes = b""
        self._ok_interval = 0.0
        self._ok_next: float | None = None
        self._ok_give_up: float | None = None
        self._bye_after_ack = False
        self._no_answer_at: float | None = None
        # Re-INVITE / UPDATE in either direction (§14)
        self._reinvite_out: Request | None = None
        self._reinvite_in: Request | None = None
        self._glare_at: float | None = None
        self._glare_body: tuple[bytes, str] | None = None

    # ======================================================================= creation

    @classmethod
    def outgoing(cls, host: CallHost, invite: Request, now: float) -> Call:
        """Start an outgoing call by sending ``invite`` (complete but for its Via)."""
        call = cls(host, Direction.OUTGOING, invite, CallState.CALLING)
        call.local_tag = invite.from_.tag or ""
        host.send_request(invite, now, call._on_invite_notice, rebuild=call._next_invite)
        return call

    @classmethod
    def incoming(cls, host: CallHost, invite: Request, now: float) -> Call:
        """Take a new INVITE: ring if configured, arm the no-answer timer, report it."""
        call = cls(host, Direction.INCOMING, invite, CallState.INCOMING)
        call.local_tag = host.ids.tag()
        host.emit(IncomingCall(call.call_id, invite))
        if host.config.auto_ring:
            call.ring(now)
        if host.config.no_answer_timeout is not None:
            call._no_answer_at = now + host.config.no_answer_timeout
        return call

    # ===================================================================== TU actions

    def _act(self, action: CallAction) -> CallState:
        new = TU_TRANSITIONS.get((self.state, action))
        if new is None:
            raise LocalProtocolError(f"cannot {action.value} a call that is {self.state.value}")
        return new

    def ring(self, now: float, status: int = 180) -> None:
        """Send a provisional response (180 Ringing by default) to the incoming INVITE."""
        if not 101 <= status <= 199:
            raise LocalProtocolError(f"ring needs a 101-199 status, not {status}")
        self.state = self._act(CallAction.RING)
        response = self.host.make_response(self.invite, status, to_tag=self.local_tag, contact=True)
        self.host.respond(self.invite, response, now)

    def answer(self, now: float, body: bytes, content_type: str = "application/sdp") -> None:
        """Accept the incoming call with a 200 OK carrying ``body`` (the SDP answer).

        The 200 is retransmitted until the ACK arrives (RFC 3261 §13.3.1.4).
        """
        new = self._act(CallAction.ANSWER)
        response = self.host.make_response(self.invite, 200, to_tag=self.local_tag, contact=True)
        response.set_body(body, content_type)
        self.dialog = Dialog.as_uas(self.invite, self.local_tag, confirmed=True)
        self.state = new
        self._no_answer_at = None
        self.answer_response = response
        self._start_ok_retransmits(response, now)
        self.host.respond(self.invite, response, now)

    def reject(self, now: float, status: int = 486, reason: str | None = None) -> None:
        """Refuse the incoming call with a final non-2xx (486 Busy Here by default)."""
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a 300-699 status, not {status}")
        self.state = self._act(CallAction.REJECT)
        response = self.host.make_response(self.invite, status, reason, to_tag=self.local_tag)
        self.host.respond(self.invite, response, now)
        self._end(EndReason.LOCAL_REJECT, status, response)

    def cancel(self, now: float) -> None:
        """Cancel the outgoing call before it is answered (RFC 3261 §9.1).

        "If no provisional response has been received, the CANCEL request MUST NOT be
        sent; rather, the client MUST wait for the arrival of a provisional response".
        """
        self.state = self._act(CallAction.CANCEL)
        if self._provisional_seen:
            self._send_cancel(now)
        else:
            self._cancel_wanted = True

    def bye(self, now: float) -> None:
        """Hang up an established call (held until the ACK if our 2xx is not ACKed yet)."""
        previous = self.state
        self.state = self._act(CallAction.BYE)
        if previous is CallState.ANSWERED:
            self._bye_after_ack = True
            return
        self._send_bye(now)

    def hangup(
        self, now: float, reject_status: int = 486, reject_reason: str | None = None
    ) -> None:
        """End the call whatever its stage: reject, cancel or BYE as the state requires."""
        if self.state is CallState.INCOMING:
            self.reject(now, reject_status, reject_reason)
        elif self.state in (CallState.CALLING, CallState.EARLY):
            self.cancel(now)
        elif self.state in (CallState.ESTABLISHED, CallState.ANSWERED):
            self.bye(now)
        else:
            raise LocalProtocolError(f"cannot hang up a call that is {self.state.value}")

    def reinvite(self, now: float, body: bytes, content_type: str = "application/sdp") -> None:
        """Send a re-INVITE with a new offer (hold/resume, ICE restart).

        Raises:
            LocalProtocolError: the call is not established, or an INVITE is already in
                progress in either direction (§14.1 "MUST NOT initiate a re-INVITE while
                another INVITE transaction is in progress").
        """
        self._act(CallAction.REINVITE)
        if self._reinvite_out is not None or self._reinvite_in is not None or self._glare_at:
            raise LocalProtocolError("a re-INVITE is already in progress on this call")
        self._send_reinvite(now, body, content_type)

    def accept_reinvite(
        self, now: float, body: bytes, content_type: str = "application/sdp"
    ) -> None:
        """Answer the pending re-INVITE/UPDATE from the peer with 200 and ``body``."""
        request = self._pending_reinvite_in()
        response = self.host.make_response(request, 200, to_tag=self.local_tag, contact=True)
        response.set_body(body, content_type)
        self._reinvite_in = None
        if request.method == "INVITE":
            self._start_ok_retransmits(response, now)
        self.host.respond(request, response, now)

    def reject_reinvite(self, now: float, status: int = 488, reason: str | None = None) -> None:
        """Refuse the pending re-INVITE/UPDATE (the session stays as it was, §14.2)."""
        request = self._pending_reinvite_in()
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a 300-699 status, not {status}")
        response = self.host.make_response(request, status, reason, to_tag=self.local_tag)
        self._reinvite_in = None
        self.host.respond(request, response, now)

    def info(self, now: float, body: bytes, content_type: str) -> None:
        """Send INFO (RFC 6086) in the dialog, e.g. ``application/dtmf-relay``."""
        self._act(CallAction.INFO)
        request = self._dialog_request("INFO")
        request.set_body(body, content_type)
        self.host.send_request(request, now, self._on_info_notice, rebuild=None)

    def _pending_reinvite_in(self) -> Request:
        if self._reinvite_in is None:
            raise LocalProtocolError(
                "no re-INVITE or UPDATE from the peer is waiting for an answer"
            )
        return self._reinvite_in

    # ======================================================================= timers

    def next_deadline(self) -> float | None:
        """The earliest of this call's own timers (transactions are the UA's)."""
        deadlines = [
            d
            for d in (
                self._ok_next,
                self._ok_give_up,
                self._no_answer_at,
                self._glare_at,
                self._cancel_give_up,
            )
            if d is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire what is due: 2xx retransmission or give-up, no-answer, glare retry."""
        if self._ok_give_up is not None and now >= self._ok_give_up:
            self._give_up_on_ack(now)
        elif self._ok_next is not None and now >= self._ok_next:
            # §13.3.1.4: "an interval that starts at T1 seconds and doubles for each
            # retransmission until it reaches T2 seconds".
            self.host.send_raw(self._ok_bytes)
            self._ok_interval = min(self._ok_interval * 2, self.host.config.timers.t2)
            self._ok_next = now + self._ok_interval
        if self._no_answer_at is not None and now >= self._no_answer_at:
            self._no_answer_at = None
            if self.state is CallState.INCOMING:
                response = self.host.make_response(self.invite, 480, to_tag=self.local_tag)
                self.host.respond(self.invite, response, now)
                self._end(EndReason.TIMEOUT, 480, response)
        if self._cancel_give_up is not None and now >= self._cancel_give_up:
            self._cancel_give_up = None
            if self.state is CallState.CANCELLING:
                # §9.1: "If there is no final response for the original request in 64*T1
                # seconds ..., the client SHOULD then consider the original transaction
                # cancelled" (without this, a lost CANCEL and a lost final left the call
                # cancelling for ever, with no timer to end it) "and SHOULD destroy the
                # client transaction handling the original request".
                self.host.abandon(self.invite)
                self._end(EndReason.LOCAL_CANCEL, 408, None)
        if self._glare_at is not None and now >= self._glare_at:
            self._glare_at = None
            body = self._glare_body
            self._glare_body = None
            if body is not None and self.state is CallState.ESTABLISHED:
                if self._reinvite_in is None:
                    self._send_reinvite(now, body[0], body[1])
                else:
                    self.host.emit(ReinviteFailed(self.call_id, 491, None))

    def _start_ok_retransmits(self, response: Response, now: float) -> None:
        timers = self.host.config.timers
        self._ok = response
        self._ok_bytes = bytes(response)
        self._ok_interval = timers.t1
        self._ok_next = now + timers.t1
        self._ok_give_up = now + timers.timeout

    def _stop_ok_retransmits(self) -> None:
        self._ok = None
        self._ok_bytes = b""
        self._ok_next = None
        self._ok_give_up = None

    def _give_up_on_ack(self, now: float) -> None:
        # §13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds without
        # receiving an ACK, the dialog is confirmed, but the session SHOULD be terminated.
        # This is accomplished with a BYE".
        self._stop_ok_retransmits()
        if self.state in (CallState.ANSWERED, CallState.ENDING):
            self.state = CallState.ENDING
            self._send_bye(now, reason=EndReason.NO_ACK)

    # ============================================================ outgoing INVITE flow

    def _on_invite_notice(self, notice: Notice, now: float) -> None:
        if notice.kind is NoticeKind.TIMEOUT:
            if self.state in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
                self._end(EndReason.TIMEOUT, 408, None)
            return
        if notice.kind is NoticeKind.TRANSPORT_ERROR:
            if self.state in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
                self._end(EndReason.TRANSPORT_ERROR, 503, None)
            return
        response = notice.message
        if not isinstance(response, Response):
            return
        code = response.status_code
        if code < 200:
            self._on_provisional(response, now)
        elif code < 300:
            self._on_invite_2xx(response, now)
        else:
            self._on_invite_failure(response, now)

    def _on_provisional(self, response: Response, now: float) -> None:
        if self.state not in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
            return
        self._provisional_seen = True
        if self._cancel_wanted:
            self._cancel_wanted = False
            self._send_cancel(now)
        if response.status_code == 100:
            return
        if self.dialog is None and response.to.tag and response.contact:
            try:
                self.dialog = Dialog.as_uac(self.invite, response)
            except RemoteProtocolError as exc:
                logger.debug("provisional response cannot make an early dialog: %s", exc)
        if self.state is CallState.CALLING:
            self.state = CallState.EARLY
        self.host.emit(CallProgressed(self.call_id, response))

    def _on_invite_2xx(self, response: Response, now: float) -> None:
        if self._ack is not None and response.to.tag == (
            self.dialog.remote_tag if self.dialog else None
        ):
            # §13.2.2.4: retransmitted 2xx: "the UAC core MUST ... generate an ACK" again.
            self.host.send_stateless(self._ack)
            return
        if self.state not in (CallState.CALLING, CallState.EARLY, CallState.CANCELLING):
            # A 2xx from another fork after we settled: ACK it and BYE it (§13.2.2.4).
            self._ack_and_bye_fork(response, now)
            return
        try:
            dialog = Dialog.as_uac(self.invite, response)
        except RemoteProtocolError as exc:
            logger.warning("2xx to INVITE unusable (%s); ending the call", exc)
            self._end(EndReason.REMOTE_REJECT, response.status_code, response)
            return
        self.dialog = dialog
        self.answer_response = response
        self._ack = self._make_ack(dialog, self.invite)
        self.host.send_stateless(self._ack)
        if self.state is CallState.CANCELLING:
            # The 2xx raced our CANCEL: the call was answered, so end it with BYE.
            self.state = CallState.ENDING
            self._send_bye(now, reason=EndReason.LOCAL_CANCEL)
            return
        self.state = CallState.ESTABLISHED
        self.host.emit(CallAnswered(self.call_id, response))

    @staticmethod
    def _make_ack(dialog: Dialog, invite: Request) -> Request:
        # §13.2.2.4: the ACK is built like any in-dialog request "with the exception of
        # the CSeq and the header fields related to authentication": CSeq number of the
        # INVITE, and the INVITE's credentials.
        ack = dialog.create_request("ACK", cseq=invite.cseq.seq)
        for name in ("Authorization", "Proxy-Authorization"):
            for value in invite.headers.get_all(name):
                ack.headers.add(name, value)
        ack.headers.add("Content-Length", "0")
        return ack

    def _ack_and_bye_fork(self, response: Response, now: float) -> None:
        try:
            fork = Dialog.as_uac(self.invite, response)
        except RemoteProtocolError:
            return
        self.host.send_stateless(self._make_ack(fork, self.invite))
        bye = fork.create_request("BYE")
        bye.headers.add("Content-Length", "0")
        self.host.send_request(bye, now, lambda notice, now: None)

    def _on_invite_failure(self, response: Response, now: float) -> None:
        code = response.status_code
        if self.state in (CallState.CALLING, CallState.EARLY):
            self._end(EndReason.REMOTE_REJECT, code, response)
        elif self.state is CallState.CANCELLING:
            self._end(EndReason.LOCAL_CANCEL, code, response)

    def _next_invite(self) -> Request:
        # §22.2: the authenticated retry carries the same Call-ID, From tag and a CSeq one
        # higher; it becomes the INVITE that CANCEL and ACK refer to.
        old = self.invite
        retry = Request("INVITE", old.uri, old.headers.copy(), old.body)
        retry.headers.remove("Via")
        retry.headers.set("CSeq", f"{old.cseq.seq + 1} INVITE")
        self.invite = retry
        self._provisional_seen = False
        return retry

    def _send_cancel(self, now: float) -> None:
        # §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
        # fields in the CANCEL request MUST be identical to those in the request being
        # cancelled, including tags. ... [it] MUST have a single Via header field value
        # matching the top Via value in the request being cancelled."
        invite = self.invite
        cancel = Request("CANCEL", invite.uri)
        h = invite.headers
        for route in h.get_all("route"):
            cancel.headers.add("Route", route)
        cancel.headers.add("Max-Forwards", "70")
        cancel.headers.add("From", h.get("from") or "")
        cancel.headers.add("To", h.get("to") or "")
        cancel.headers.add("Call-ID", invite.call_id)
        cancel.headers.add("CSeq", f"{invite.cseq.seq} CANCEL")
        cancel.headers.add("Content-Length", "0")
        top_via = str(invite.via[0])
        self.host.send_request(cancel, now, lambda notice, now: None, via=top_via)
        self._cancel_give_up = now + self.host.config.timers.timeout

    # ============================================================ incoming INVITE flow

    def on_cancel(self, now: float) -> bool:
        """The caller cancelled; answer the INVITE 487 if still pending. Returns whether it was."""
        if self.state is not CallState.INCOMING:
            return False
        response = self.host.make_response(self.invite, 487, to_tag=self.local_tag)
        self.host.respond(self.invite, response, now)
        self._end(EndReason.REMOTE_CANCEL, 487, response)
        return True

    def on_ack(self, ack: Request, now: float) -> None:
        """An ACK for one of our 2xx responses arrived."""
        if self._ok is None or ack.cseq.seq != self._ok.cseq.seq:
            return  # a retransmitted ACK, or one for a 2xx we no longer retransmit
        self._stop_ok_retransmits()
        if self.state is CallState.ANSWERED:
            self.state = CallState.ESTABLISHED
            self.host.emit(CallConfirmed(self.call_id, ack))
        elif self.state is CallState.ENDING and self._bye_after_ack:
            self.host.emit(CallConfirmed(self.call_id, ack))
        if self._bye_after_ack:
            self._bye_after_ack = False
            self._send_bye(now)

    # ============================================================ in-dialog requests

    def on_request(self, request: Request, now: float) -> None:
        """An in-dialog request (To tag ours) other than ACK and CANCEL."""
        dialog = self.dialog
        if dialog is None:
            self.host.respond(request, self.host.make_response(request, 481), now)
            return
        try:
            dialog.check_request(request)
        except RemoteProtocolError as exc:
            self.host.respond(request, self.host.make_response(request, exc.status_hint), now)
            return
        method = request.method
        if method == "BYE":
            self.host.respond(request, self.host.make_response(request, 200), now)
            if self._reinvite_in is not None:
                pending = self._reinvite_in
                self._reinvite_in = None
                self.host.respond(pending, self.host.make_response(pending, 487), now)
            self._stop_ok_retransmits()
            self._end(EndReason.REMOTE_HANGUP, None, request)
        elif method in ("INVITE", "UPDATE"):
            self._on_remote_offer(request, now)
        elif method == "INFO":
            self.host.respond(request, self.host.make_response(request, 200), now)
            self.host.emit(InfoReceived(self.call_id, request))
        elif method == "REFER":
            if request.typed("refer-to") is None:
                self.host.respond(
                    request, self.host.make_response(request, 400, "Missing Refer-To"), now
                )
                return
            self.host.respond(request, self.host.make_response(request, 202), now)
            self.host.emit(ReferReceived(self.call_id, request))
        else:  # OPTIONS, NOTIFY and other methods we accept in a dialog
            self.host.respond(request, self.host.make_response(request, 200), now)

    def _on_remote_offer(self, request: Request, now: float) -> None:
        if self.state not in (CallState.ESTABLISHED, CallState.ANSWERED):
            self.host.respond(request, self.host.make_response(request, 491), now)
            return
        if self._reinvite_out is not None:
            # §14.2: "A UAS that receives an INVITE on a dialog while an INVITE it had sent
            # on that dialog is in progress MUST return a 491 (Request Pending)".
            self.host.respond(request, self.host.make_response(request, 491), now)
            return
        if self._reinvite_in is not None:
            # §14.2: a second INVITE before the first is answered: 500 with Retry-After.
            response = self.host.make_response(request, 500)
            response.headers.add("Retry-After", str(int(self.host.ids.fraction() * 10)))
            self.host.respond(request, response, now)
            return
        assert self.dialog is not None
        self.dialog.refresh_target(request)
        self._reinvite_in = request
        self.host.emit(ReinviteReceived(self.call_id, request))

    # ============================================================ our in-dialog requests

    def _dialog_request(self, method: str) -> Request:
        if self.dialog is None:
            raise LocalProtocolError(f"cannot send {method}: the call has no dialog")
        return self.dialog.create_request(method)

    def _build_reinvite(self, body: bytes, content_type: str) -> Request:
        request = self._dialog_request("INVITE")
        request.headers.add("Contact", str(self.host.contact))
        request.headers.add("Allow", ", ".join(self.host.config.allow))
        request.headers.add("Supported", ", ".join(self.host.config.supported))
        request.set_body(body, content_type)
        self._reinvite_out = request
        return request

    def _send_reinvite(self, now: float, body: bytes, content_type: str) -> None:
        request = self._build_reinvite(body, content_type)
        self.host.send_request(
            request,
            now,
            self._on_reinvite_notice,
            rebuild=lambda: self._build_reinvite(body, content_type),
        )

    def _on_reinvite_notice(self, notice: Notice, now: float) -> None:
        request = self._reinvite_out
        if request is None:
            # §13.2.2.4: a retransmitted 2xx for our re-INVITE gets the same ACK again.
            if isinstance(notice.message, Response) and notice.message.is_success and self._ack:
                self.host.send_stateless(self._ack)
            return
        if notice.kind in (NoticeKind.TIMEOUT, NoticeKind.TRANSPORT_ERROR):
            self._reinvite_out = None
            # §12.2.1.2: a 408 for an in-dialog request SHOULD terminate the dialog.
            if notice.kind is NoticeKind.TIMEOUT and self.state is CallState.ESTABLISHED:
                self._send_bye(now, reason=EndReason.TIMEOUT)
            else:
                self.host.emit(ReinviteFailed(self.call_id, 503, None))
            return
        response = notice.message
        if not isinstance(response, Response) or response.status_code < 200:
            return
        code = response.status_code
        self._reinvite_out = None
        if code < 300:
            assert self.dialog is not None
            self.dialog.refresh_target(response)
            self._ack = self._make_ack(self.dialog, request)
            self.host.send_stateless(self._ack)
            if not self._over:  # a BYE may have ended the call while the 2xx was coming
                self.host.emit(ReinviteAnswered(self.call_id, response))
            return
        if code == 491:
            # §14.1: "If the UAC is the owner of the Call-ID of the dialog ID (meaning it
            # generated the value), T has a randomly chosen value between 2.1 and 4
            # seconds in units of 10 ms. If the UAC is not the owner ... T has a randomly
            # chosen value of between 0 and 2 seconds in units of 10 ms."
            fraction = self.host.ids.fraction()
            if self.direction is Direction.OUTGOING:
                delay = 2.1 + round(fraction * 190) / 100
            else:
                delay = round(fraction * 200) / 100
            self._glare_at = now + delay
            self._glare_body = (
                request.body,
                request.headers.get("content-type") or "application/sdp",
            )
            return
        if code in (481, 408):
            self._end(EndReason.REMOTE_HANGUP if code == 481 else EndReason.TIMEOUT, code, response)
            return
        self.host.emit(ReinviteFailed(self.call_id, code, response))

    def _on_info_notice(self, notice: Notice, now: float) -> None:
        if notice.kind is NoticeKind.TIMEOUT:
            self.host.emit(InfoAnswered(self.call_id, 408))
        elif notice.kind is NoticeKind.TRANSPORT_ERROR:
            self.host.emit(InfoAnswered(self.call_id, 503))
        elif isinstance(notice.message, Response) and notice.message.status_code >= 200:
            code = notice.message.status_code
            self.host.emit(InfoAnswered(self.call_id, code))
            if code == 481 and self.state is CallState.ESTABLISHED:
                self._end(EndReason.REMOTE_HANGUP, code, notice.message)

    def _build_bye(self) -> Request:
        bye = self._dialog_request("BYE")
        bye.headers.add("Content-Length", "0")
        return bye

    def _send_bye(self, now: float, reason: EndReason = EndReason.LOCAL_HANGUP) -> None:
        self.state = CallState.ENDING

        def on_notice(notice: Notice, now: float) -> None:
            # Whatever the BYE's outcome (2xx, error, timeout), the session is over (§15.1.1).
            if notice.kind is NoticeKind.TERMINATED:
                return
            message = notice.message
            if isinstance(message, Response) and message.status_code < 200:
                return
            if isinstance(message, Response):
                self._end(reason, message.status_code, message)
            else:
                self._end(reason, None, None)

        self.host.send_request(self._build_bye(), now, on_notice, rebuild=self._build_bye)

    # ================================================================== ending

    def _end(
        self, reason: EndReason, status: int | None, message: Request | Response | None
    ) -> None:
        if self._over:
            return
        self._over = True
        self.state = CallState.ENDED
        if self.dialog is not None:
            self.dialog.terminate()
        self._stop_ok_retransmits()
        self._no_answer_at = None
        self._glare_at = None
        self._cancel_give_up = None
        self.host.emit(CallEnded(self.call_id, reason, status, message))
        self.host.call_over(self)
