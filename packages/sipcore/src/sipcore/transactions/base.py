"""What the four transaction machines share: inputs, actions, timers, the step function.

A machine is a table ``(state, input) -> (next state, actions)`` (one module per
machine, RFC text beside each row). ``Transaction.step`` looks the pair up and runs the
actions. What happens when a pair is missing depends on who sent the input:

- the TU (our own code) asking for something illegal -> ``LocalProtocolError``, state
  unchanged;
- the peer (a retransmission, a late response) -> absorbed, as RFC 3261 §17 says;
- a timer that is no longer armed -> ignored (stale).

Time is an input: every entry point takes ``now``; timers are absolute deadlines in the
caller's clock, read with ``next_deadline``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from sipcore.errors import LocalProtocolError
from sipcore.message import Message, Request, Response

__all__ = [
    "TimerConfig",
    "Input",
    "Action",
    "Timer",
    "Row",
    "Notice",
    "NoticeKind",
    "Transaction",
]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """The RFC 3261 §17 timer values, in seconds."""

    t1: float = 0.5
    """RTT estimate (§17.1.1.1)."""
    t2: float = 4.0
    """Maximum retransmit interval for non-INVITE requests and INVITE responses."""
    t4: float = 5.0
    """Maximum duration a message remains in the network."""
    timer_d: float = 32.0
    """Wait time for response retransmits in the INVITE client (> 32 s for UDP)."""

    @property
    def timeout(self) -> float:
        """64*T1: timers B, F, H, J, L and M."""
        return 64 * self.t1


class Input(enum.Enum):
    """What can happen to a transaction."""

    # From the peer (via the transport)
    RESPONSE_1XX = "1xx received"
    RESPONSE_2XX = "2xx received"
    RESPONSE_FINAL = "final (300-699, or any final for non-INVITE) received"
    REQUEST_RETRANSMISSION = "request retransmission received"
    ACK = "ACK received"
    TRANSPORT_ERROR = "transport error"
    # From the TU
    TU_1XX = "TU sends 1xx"
    TU_2XX = "TU sends 2xx"
    TU_FINAL = "TU sends final (300-699, or any final for non-INVITE)"
    # Timers (RFC 3261 Table 4, RFC 6026 Table 1)
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


_TU_INPUTS = frozenset({Input.TU_1XX, Input.TU_2XX, Input.TU_FINAL})


class Timer(enum.Enum):
    """The timer names; each maps to the input it produces when it fires."""

    A = Input.TIMER_A
    B = Input.TIMER_B
    D = Input.TIMER_D
    E = Input.TIMER_E
    F = Input.TIMER_F
    G = Input.TIMER_G
    H = Input.TIMER_H
    I = Input.TIMER_I  # noqa: E741 - the RFC's name
    J = Input.TIMER_J
    K = Input.TIMER_K
    L = Input.TIMER_L
    M = Input.TIMER_M


# §17.1.1.2, §17.1.2.2, §17.2.1: A, E and G are reset to twice their last interval.
_BACKOFF_TIMERS = frozenset({Timer.A, Timer.E, Timer.G})


class Action(enum.Enum):
    """What a transition does, run in the order the table lists."""

    RETRANSMIT_REQUEST = "retransmit the request"
    SEND_RESPONSE = "send the response the TU gave and remember it"
    RESEND_RESPONSE = "resend the last response"
    SEND_ACK = "send ACK for the non-2xx final response"
    RESEND_ACK = "resend that ACK"
    PASS_TO_TU = "pass the message to the TU"
    TELL_TIMEOUT = "tell the TU the transaction timed out"
    TELL_TRANSPORT_ERROR = "tell the TU the transport failed"
    # Timer handling: START_x arms x at its initial value (or fires it at once when the
    # transport is reliable and its reliable value is 0); BACKOFF_x doubles (capped).
    # Timers are disarmed by the table itself: see Transaction.step.
    START_A = "arm Timer A = T1 (unreliable only)"
    BACKOFF_A = "re-arm Timer A at twice its interval"
    START_B = "arm Timer B = 64*T1"
    START_D = "arm Timer D (32 s unreliable, 0 reliable)"
    START_E = "arm Timer E = T1 (unreliable only)"
    BACKOFF_E = "re-arm Timer E at min(2*interval, T2)"
    E_AT_T2 = "re-arm Timer E at T2"
    START_F = "arm Timer F = 64*T1"
    START_G = "arm Timer G = T1 (unreliable only)"
    BACKOFF_G = "re-arm Timer G at min(2*interval, T2)"
    START_H = "arm Timer H = 64*T1"
    START_I = "arm Timer I (T4 unreliable, 0 reliable)"
    START_J = "arm Timer J (64*T1 unreliable, 0 reliable)"
    START_K = "arm Timer K (T4 unreliable, 0 reliable)"
    START_L = "arm Timer L = 64*T1"
    START_M = "arm Timer M = 64*T1"


Row = tuple[enum.Enum, tuple[Action, ...]]
"""A table entry: the next state and the actions."""


class NoticeKind(enum.Enum):
    """What a transaction tells its TU."""

    MESSAGE = "a response (client) or an ACK for a 2xx (server INVITE)"
    TIMEOUT = "the transaction timed out"
    TRANSPORT_ERROR = "the transport failed"
    TERMINATED = "the transaction ended"


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing the TU must hear about."""

    kind: NoticeKind
    message: Message | None = None


class Transaction:
    """Machinery shared by the four machines; subclasses give the table and the start.

    Args:
        key: the matching key (RFC 3261 §17.1.3 / §17.2.3).
        request: the request that created the transaction.
        send: called with each datagram to transmit (the UA's outbox).
        timers: timer values.
        reliable: whether the transport is reliable (TCP, TLS, WebSocket).
    """

    TABLE: ClassVar[Mapping[tuple[enum.Enum, Input], Row]]
    TERMINATED: ClassVar[enum.Enum]

    __slots__ = (
        "_ack_bytes",
        "_deadlines",
        "_intervals",
        "_reliable",
        "_request_bytes",
        "_response",
        "_response_bytes",
        "_send",
        "_timers",
        "key",
        "request",
        "state",
    )

    def __init__(
        self,
        key: tuple[str, ...],
        request: Request,
        send: Callable[[bytes], None],
        timers: TimerConfig,
        reliable: bool,
        *,
        initial_state: enum.Enum,
    ) -> None:
        self.key = key
        self.request = request
        self.state = initial_state
        self._send = send
        self._timers = timers
        self._reliable = reliable
        self._deadlines: dict[Timer, float] = {}
        self._intervals: dict[Timer, float] = {}
        self._request_bytes: bytes = b""
        self._response: Response | None = None
        self._response_bytes: bytes = b""
        self._ack_bytes: bytes = b""

    # -- inspection ------------------------------------------------------------------

    @property
    def terminated(self) -> bool:
        """Whether the machine has reached Terminated."""
        return self.state is self.TERMINATED

    @property
    def last_response(self) -> Response | None:
        """The last response sent (server) or received (client)."""
        return self._response

    def next_deadline(self) -> float | None:
        """The earliest armed timer's deadline, or ``None``."""
        return min(self._deadlines.values()) if self._deadlines else None

    def armed(self) -> dict[str, float]:
        """Armed timers by letter, for tests and debugging."""
        return {t.name: d for t, d in self._deadlines.items()}

    # -- driving ---------------------------------------------------------------------

    def handle_timer(self, now: float) -> list[Notice]:
        """Fire every timer due at ``now`` (earliest first). Nothing due: nothing happens."""
        notices: list[Notice] = []
        while self._deadlines and not self.terminated:
            timer, deadline = min(self._deadlines.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self._deadlines[timer]
            notices += self.step(timer.value, now)
        return notices

    def transport_error(self, now: float) -> list[Notice]:
        """The transport could not deliver (RFC 3261 §17.1.4, §17.2.4)."""
        return self.step(Input.TRANSPORT_ERROR, now)

    def step(self, event: Input, now: float, message: Message | None = None) -> list[Notice]:
        """Apply one input.

        Returns:
            What the TU must be told.

        Raises:
            LocalProtocolError: a TU input not allowed in this state (nothing changed).
        """
        row = self.TABLE.get((self.state, event))
        if row is None:
            if event in _TU_INPUTS:
                raise LocalProtocolError(
                    f"{type(self).__name__} in state {self.state.name} cannot: {event.value}"
                )
            return []  # a peer retransmission to absorb, or a stale timer
        next_state, actions = row
        self.state = next_state
        # A timer with no row in the new state can never act again (Timer A or B after
        # Calling, F after a final response, G and H after the ACK): disarm it, so that
        # get_timer() never reports a deadline that would only wake the caller for nothing.
        for timer in [t for t in self._deadlines if (next_state, t.value) not in self.TABLE]:
            del self._deadlines[timer]
        notices: list[Notice] = []
        for action in actions:
            self._run(action, now, message, notices)
        if next_state is self.TERMINATED:
            # (A 0-second timer fired inside the actions reports its own termination.)
            self._deadlines.clear()
            notices.append(Notice(NoticeKind.TERMINATED))
        return notices

    # -- actions ---------------------------------------------------------------------

    def _arm(self, timer: Timer, interval: float, now: float, notices: list[Notice]) -> None:
        if interval <= 0:
            # Reliable transports use 0 for D, I, J, K: the timer fires at once.
            notices += self.step(timer.value, now)
            return
        if timer in _BACKOFF_TIMERS:
            # Only the retransmission timers double from their last interval; keeping
            # none for the others leaves a reliable transaction's dict empty, which the
            # garbage collector does not track.
            self._intervals[timer] = interval
        self._deadlines[timer] = now + interval

    def _run(
        self, action: Action, now: float, message: Message | None, notices: list[Notice]
    ) -> None:
        t = self._timers
        unreliable = not self._reliable
        if action is Action.RETRANSMIT_REQUEST:
            self._send(self._request_bytes)
        elif action is Action.SEND_RESPONSE:
            assert isinstance(message, Response)
            self._response = message
            self._response_bytes = bytes(message)
            self._send(self._response_bytes)
        elif action is Action.RESEND_RESPONSE:
            if self._response_bytes:
                self._send(self._response_bytes)
        elif action is Action.SEND_ACK:
            assert isinstance(message, Response)
            self._ack_bytes = bytes(self._make_ack(message))
            self._send(self._ack_bytes)
        elif action is Action.RESEND_ACK:
            self._send(self._ack_bytes)
        elif action is Action.PASS_TO_TU:
            if isinstance(message, Response):
                self._response = message
            notices.append(Notice(NoticeKind.MESSAGE, message))
        elif action is Action.TELL_TIMEOUT:
            notices.append(Notice(NoticeKind.TIMEOUT))
        elif action is Action.TELL_TRANSPORT_ERROR:
            notices.append(Notice(NoticeKind.TRANSPORT_ERROR))
        elif action is Action.START_A:
            if unreliable:
                self._arm(Timer.A, t.t1, now, notices)
        elif action is Action.BACKOFF_A:
            self._arm(Timer.A, 2 * self._intervals[Timer.A], now, notices)
        elif action is Action.START_E:
            if unreliable:
                self._arm(Timer.E, t.t1, now, notices)
        elif action is Action.BACKOFF_E:
            self._arm(Timer.E, min(2 * self._intervals[Timer.E], t.t2), now, notices)
        elif action is Action.E_AT_T2:
            self._arm(Timer.E, t.t2, now, notices)
        elif action is Action.START_G:
            if unreliable:
                self._arm(Timer.G, t.t1, now, notices)
        elif action is Action.BACKOFF_G:
            self._arm(Timer.G, min(2 * self._intervals[Timer.G], t.t2), now, notices)
        elif action is Action.START_B:
            self._arm(Timer.B, t.timeout, now, notices)
        elif action is Action.START_F:
            self._arm(Timer.F, t.timeout, now, notices)
        elif action is Action.START_H:
            self._arm(Timer.H, t.timeout, now, notices)
        elif action is Action.START_L:
            self._arm(Timer.L, t.timeout, now, notices)
        elif action is Action.START_M:
            self._arm(Timer.M, t.timeout, now, notices)
        elif action is Action.START_D:
            self._arm(Timer.D, max(t.timer_d, t.timeout) if unreliable else 0, now, notices)
        elif action is Action.START_I:
            self._arm(Timer.I, t.t4 if unreliable else 0, now, notices)
        elif action is Action.START_J:
            self._arm(Timer.J, t.timeout if unreliable else 0, now, notices)
        elif action is Action.START_K:
            self._arm(Timer.K, t.t4 if unreliable else 0, now, notices)
        else:  # pragma: no cover - every Action is handled above
            raise AssertionError(action)

    def _make_ack(self, response: Response) -> Request:
        raise NotImplementedError
