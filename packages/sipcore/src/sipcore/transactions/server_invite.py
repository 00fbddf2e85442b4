"""The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as changed by RFC 6026 §8.5-8.7)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from sipcore.message import Request
from sipcore.transactions.base import Action, Input, Row, TimerConfig, Transaction

__all__ = ["ServerInviteState", "ServerInviteTransaction"]


class ServerInviteState(enum.Enum):
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


S = ServerInviteState
A = Action

TABLE: Mapping[tuple[enum.Enum, Input], Row] = {
    # §17.2.1: "If a request retransmission is received while in the "Proceeding" state,
    # the most recent provisional response that was received from the TU MUST be passed
    # to the transport layer for retransmission."
    (S.PROCEEDING, Input.REQUEST_RETRANSMISSION): (S.PROCEEDING, (A.RESEND_RESPONSE,)),
    # "The TU passes any number of provisional responses to the server transaction."
    (S.PROCEEDING, Input.TU_1XX): (S.PROCEEDING, (A.SEND_RESPONSE,)),
    # RFC 6026 §8.5: "If, while in the "Proceeding" state, the TU passes a 2xx response
    # to the server transaction, the server transaction MUST pass this response to the
    # transport layer for transmission. The server transaction MUST then transition to
    # the "Accepted" state" ... §8.6: "Timer L ... 64*T1".
    (S.PROCEEDING, Input.TU_2XX): (S.ACCEPTED, (A.SEND_RESPONSE, A.START_L)),
    # §17.2.1: "While in the "Proceeding" state, if the TU passes a response with status
    # code from 300 to 699 to the server transaction, the response MUST be passed to the
    # transport layer for transmission, and the state machine MUST enter the "Completed"
    # state. For unreliable transports, timer G is set to fire in T1 seconds ... timer H
    # MUST be set to fire in 64*T1 seconds for all transports."
    (S.PROCEEDING, Input.TU_FINAL): (
        S.COMPLETED,
        (A.SEND_RESPONSE, A.START_G, A.START_H),
    ),
    (S.PROCEEDING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "If timer G fires, the response is passed to the transport layer once more for
    # retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds."
    (S.COMPLETED, Input.TIMER_G): (S.COMPLETED, (A.RESEND_RESPONSE, A.BACKOFF_G)),
    # "Furthermore, while in the "Completed" state, if a request retransmission is
    # received, the server SHOULD pass the response to the transport for retransmission."
    (S.COMPLETED, Input.REQUEST_RETRANSMISSION): (S.COMPLETED, (A.RESEND_RESPONSE,)),
    # "If an ACK is received while the server transaction is in the "Completed" state,
    # the server transaction MUST transition to the "Confirmed" state." ... "timer I is
    # set to fire in T4 seconds for unreliable transports, and zero seconds for reliable
    # transports."
    (S.COMPLETED, Input.ACK): (S.CONFIRMED, (A.START_I,)),
    # "If timer H fires while in the "Completed" state, it implies that the ACK was never
    # received. In this case, the server transaction MUST transition to the "Terminated"
    # state, and MUST indicate to the TU that a transaction failure has occurred."
    (S.COMPLETED, Input.TIMER_H): (S.TERMINATED, (A.TELL_TIMEOUT,)),
    (S.COMPLETED, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "The purpose of the "Confirmed" state is to absorb any additional ACK messages"
    # (absorbed: no row). "Once timer I fires, the server MUST transition to the
    # "Terminated" state."
    (S.CONFIRMED, Input.TIMER_I): (S.TERMINATED, ()),
    # RFC 6026 §8.7: "the server transaction MUST NOT generate responses to retransmitted
    # INVITE requests" in Accepted (absorbed: no row for REQUEST_RETRANSMISSION);
    # "the server transaction MUST pass [2xx retransmissions from the TU] to the
    # transport"; "Any ACKs received ... are passed directly to the TU"; "If Timer L
    # fires while the server INVITE state machine is in the "Accepted" state, the machine
    # MUST transition to the "Terminated" state."
    (S.ACCEPTED, Input.TU_2XX): (S.ACCEPTED, (A.SEND_RESPONSE,)),
    (S.ACCEPTED, Input.ACK): (S.ACCEPTED, (A.PASS_TO_TU,)),
    (S.ACCEPTED, Input.TIMER_L): (S.TERMINATED, ()),
}


class ServerInviteTransaction(Transaction):
    """Answers an INVITE: provisional responses, then a 2xx (TU retransmits) or a final
    non-2xx (this machine retransmits until ACK)."""

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
        super().__init__(key, request, send, timers, reliable, initial_state=S.PROCEEDING)
