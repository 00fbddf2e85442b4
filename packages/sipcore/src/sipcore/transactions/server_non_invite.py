"""The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from sipcore.message import Request
from sipcore.transactions.base import Action, Input, Row, TimerConfig, Transaction

__all__ = ["ServerNonInviteState", "ServerNonInviteTransaction"]


class ServerNonInviteState(enum.Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


S = ServerNonInviteState
A = Action

TABLE: Mapping[tuple[enum.Enum, Input], Row] = {
    # §17.2.2: "While in the "Trying" state, if the TU passes a provisional response to
    # the server transaction, the server transaction MUST enter the "Proceeding" state."
    (S.TRYING, Input.TU_1XX): (S.PROCEEDING, (A.SEND_RESPONSE,)),
    # "If the TU passes a final response (status codes 200-699) to the server while in
    # the "Trying" state, the response MUST be passed to the transport layer, and the
    # server transaction MUST enter the "Completed" state." ... "the server transaction
    # MUST set Timer J to fire in 64*T1 seconds for unreliable transports, and zero
    # seconds for reliable transports."
    (S.TRYING, Input.TU_FINAL): (S.COMPLETED, (A.SEND_RESPONSE, A.START_J)),
    # "Once in the "Trying" state, any further request retransmissions are discarded"
    # (no row: absorbed).
    (S.TRYING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "If a retransmission of the request is received while in the "Proceeding" state,
    # the most recently sent provisional response MUST be passed to the transport layer
    # for retransmission."
    (S.PROCEEDING, Input.REQUEST_RETRANSMISSION): (S.PROCEEDING, (A.RESEND_RESPONSE,)),
    (S.PROCEEDING, Input.TU_1XX): (S.PROCEEDING, (A.SEND_RESPONSE,)),
    (S.PROCEEDING, Input.TU_FINAL): (S.COMPLETED, (A.SEND_RESPONSE, A.START_J)),
    (S.PROCEEDING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "While in the "Completed" state, the server transaction MUST pass the final
    # response to the transport layer for retransmission whenever a retransmission of
    # the request is received. Any other final responses passed by the TU to the server
    # transaction MUST be discarded" (we refuse them: LocalProtocolError).
    (S.COMPLETED, Input.REQUEST_RETRANSMISSION): (S.COMPLETED, (A.RESEND_RESPONSE,)),
    # "The server transaction remains in this state until Timer J fires, at which point
    # it MUST transition to the "Terminated" state."
    (S.COMPLETED, Input.TIMER_J): (S.TERMINATED, ()),
    (S.COMPLETED, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
}


class ServerNonInviteTransaction(Transaction):
    """Answers one non-INVITE request and absorbs its retransmissions."""

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
        super().__init__(key, request, send, timers, reliable, initial_state=S.TRYING)
