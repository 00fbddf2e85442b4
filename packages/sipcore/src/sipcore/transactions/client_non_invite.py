"""The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from sipcore.message import Request
from sipcore.transactions.base import Action, Input, Notice, Row, TimerConfig, Transaction

__all__ = ["ClientNonInviteState", "ClientNonInviteTransaction"]


class ClientNonInviteState(enum.Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


S = ClientNonInviteState
A = Action

TABLE: Mapping[tuple[enum.Enum, Input], Row] = {
    # §17.1.2.2: "If Timer E fires while still in this state, the timer is reset, but
    # this time with a value of MIN(2*T1, T2)."
    (S.TRYING, Input.TIMER_E): (S.TRYING, (A.RETRANSMIT_REQUEST, A.BACKOFF_E)),
    # "If Timer F fires while the client transaction is still in the "Trying" state, the
    # client transaction SHOULD inform the TU about the timeout, and then it SHOULD
    # enter the "Terminated" state."
    (S.TRYING, Input.TIMER_F): (S.TERMINATED, (A.TELL_TIMEOUT,)),
    # "If a provisional response is received while in the "Trying" state, the response
    # MUST be passed to the TU, and then the client transaction SHOULD move to the
    # "Proceeding" state."
    (S.TRYING, Input.RESPONSE_1XX): (S.PROCEEDING, (A.PASS_TO_TU,)),
    # "If a final response (status codes 200-699) is received while in the "Trying"
    # state, the response MUST be passed to the TU, and the client transaction MUST
    # transition to the "Completed" state." ... "Timer K [is set] to fire in T4 seconds
    # for unreliable transports, and zero seconds for reliable transports."
    (S.TRYING, Input.RESPONSE_FINAL): (
        S.COMPLETED,
        (A.PASS_TO_TU, A.START_K),
    ),
    # §17.1.4: transport failure -> inform the TU, Terminated.
    (S.TRYING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "If Timer E fires while in the "Proceeding" state, the request MUST be passed to
    # the transport layer for retransmission, and Timer E MUST be reset with a value
    # of T2 seconds."
    (S.PROCEEDING, Input.TIMER_E): (S.PROCEEDING, (A.RETRANSMIT_REQUEST, A.E_AT_T2)),
    # "If timer F fires while in the "Proceeding" state, the TU MUST be informed of a
    # timeout, and the client transaction MUST transition to the terminated state."
    (S.PROCEEDING, Input.TIMER_F): (S.TERMINATED, (A.TELL_TIMEOUT,)),
    (S.PROCEEDING, Input.RESPONSE_1XX): (S.PROCEEDING, (A.PASS_TO_TU,)),
    # "If a final response (status codes 200-699) is received while in the "Proceeding"
    # state, the response MUST be passed to the TU, and the client transaction MUST
    # transition to the "Completed" state."
    (S.PROCEEDING, Input.RESPONSE_FINAL): (
        S.COMPLETED,
        (A.PASS_TO_TU, A.START_K),
    ),
    (S.PROCEEDING, Input.TRANSPORT_ERROR): (S.TERMINATED, (A.TELL_TRANSPORT_ERROR,)),
    # "The "Completed" state exists to buffer any additional response retransmissions
    # that may be received" (absorbed: no rows). "If Timer K fires while in this state,
    # the client transaction MUST transition to the "Terminated" state."
    (S.COMPLETED, Input.TIMER_K): (S.TERMINATED, ()),
}


class ClientNonInviteTransaction(Transaction):
    """Sends a non-INVITE request and collects its responses."""

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

    def start(self, now: float) -> list[Notice]:
        """Send the request; arm Timer E (unreliable only) and Timer F (§17.1.2.2)."""
        self._request_bytes = bytes(self.request)
        self._send(self._request_bytes)
        notices: list[Notice] = []
        self._run(Action.START_E, now, None, notices)
        self._run(Action.START_F, now, None, notices)
        return notices
