"""The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as changed by RFC 6026 §8.4)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from sipcore.message import Request, Response
from sipcore.transactions.base import Action, Input, Notice, Row, TimerConfig, Transaction

__all__ = ["ClientInviteState", "ClientInviteTransaction"]


class ClientInviteState(enum.Enum):
    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


S = ClientInviteState
A = Action

TABLE: Mapping[tuple[enum.Enum, Input], Row] = {
    # §17.1.1.2: "When timer A fires 2*T1 seconds later, the request MUST be
    # retransmitted again (assuming the client transaction is still in this state)."
    (S.CALLING, Input.TIMER_A): (S.CALLING, (A.RETRANSMIT_REQUEST, A.BACKOFF_A)),
    # "If the client transaction is still in the "Calling" state when timer B fires,
    # the client transaction SHOULD inform the TU that a timeout has occurred."
    (S.CALLING, Input.TIMER_B): (S.TERMINATED, (A.TELL_TIMEOUT,)),
    # "If the client transaction receives a provisional response while in the "Calling"
    # state, it transitions to the "Proceeding" state ... SHOULD NOT retransmit the
    # request any longer. Furthermore, the provisional response MUST be passed to the TU."
    (S.CALLING, Input.RESPONSE_1XX): (S.PROCEEDING, (A.PASS_TO_TU,)),
    # RFC 6026 §8.4: "If a 2xx response is received while the client INVITE state
    # machine is in the "Calling" or "Proceeding" states, it MUST transition to the
    # "Accepted" state, pass the 2xx response to the TU, and set Timer M to 64*T1."
    (S.CALLING, Input.RESPONSE_2XX): (
        S.ACCEPTED,
        (A.PASS_TO_TU, A.START_M),
    ),
    # §17.1.1.2: "When in either the "Calling" or "Proceeding" states, reception of a
    # response with status code from 300-699 MUST cause the client transaction to
    # transition to "Completed". The client transaction MUST pass the received response
    # up to the TU, and the client transaction MUST generate an ACK request".
    # "Timer D [is set] to fire in at least 32 seconds for unreliable transports, and
    # zero seconds for reliable transports."
    (S.CALLING, Input.RESPONSE_FINAL): (
        S.COMPLETED,
        (A.SEND_ACK, A.PASS_TO_TU, A.START_D),
    ),
    # §17.1.4
    (S.CALLING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    (S.PROCEEDING, Input.RESPONSE_1XX): (S.PROCEEDING, (A.PASS_TO_TU,)),
    (S.PROCEEDING, Input.RESPONSE_2XX): (S.ACCEPTED, (A.PASS_TO_TU, A.START_M)),
    (S.PROCEEDING, Input.RESPONSE_FINAL): (
        S.COMPLETED,
        (A.SEND_ACK, A.PASS_TO_TU, A.START_D),
    ),
    (S.PROCEEDING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "Any retransmissions of the final response that are received while in the
    # "Completed" state MUST cause the ACK to be re-passed to the transport layer for
    # retransmission, but the newly received response MUST NOT be passed up to the TU."
    (S.COMPLETED, Input.RESPONSE_FINAL): (S.COMPLETED, (A.RESEND_ACK,)),
    # "If timer D fires while the client transaction is in the "Completed" state, the
    # client transaction MUST move to the terminated state."
    (S.COMPLETED, Input.TIMER_D): (S.TERMINATED, ()),
    (S.COMPLETED, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # RFC 6026 §8.4: "any 2xx response received while in the "Accepted" state MUST be
    # passed up to the TU" (the TU re-sends its ACK) "... If Timer M fires while the
    # client INVITE state machine is in the "Accepted" state, the machine MUST
    # transition to the "Terminated" state."
    (S.ACCEPTED, Input.RESPONSE_2XX): (S.ACCEPTED, (A.PASS_TO_TU,)),
    (S.ACCEPTED, Input.TIMER_M): (S.TERMINATED, ()),
}


class ClientInviteTransaction(Transaction):
    """Sends an INVITE, ACKs non-2xx finals itself, and hands 2xx to the TU (which ACKs)."""

    TABLE = TABLE
    TERMINATED = S.TERMINATED
    __slots__ = ()

    def __init__(
        self,
        key: tuple[str, ...],
        request: Request,
        send: Callable[[bytes], None],
        timers: TimerConfig,
        reliable: bool,
    ) -> None:
        super().__init__(key, request, send, timers, reliable, initial_state=S.CALLING)

    def start(self, now: float) -> list[Notice]:
        """Send the INVITE; arm Timer A (unreliable only) and Timer B (§17.1.1.2)."""
        self._request_bytes = bytes(self.request)
        self._send(self._request_bytes)
        notices: list[Notice] = []
        self._run(Action.START_A, now, None, notices)
        self._run(Action.START_B, now, None, notices)
        return notices

    def _make_ack(self, response: Response) -> Request:
        # §17.1.1.3: the ACK for a non-2xx final response has the INVITE's Request-URI,
        # Call-ID, From, CSeq number and a single Via (the INVITE's top one), the To of the
        # response, and the INVITE's Route headers.
        invite = self.request
        ack = Request("ACK", invite.uri)
        h = invite.headers
        ack.headers.add("Via", h.get_all("via")[0].split(",")[0].strip())
        for name in ("route",):
            for value in h.get_all(name):
                ack.headers.add("Route", value)
        ack.headers.add("Max-Forwards", "70")
        ack.headers.add("From", h.get("from") or "")
        ack.headers.add("To", response.headers.get("to") or "")
        ack.headers.add("Call-ID", h.get("call-id") or "")
        ack.headers.add("CSeq", f"{invite.cseq.seq} ACK")
        ack.headers.add("Content-Length", "0")
        return ack
