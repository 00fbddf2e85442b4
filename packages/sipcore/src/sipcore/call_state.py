"""The states of a call and what the TU may do in each (the "Rule 1" table of ``Call``).

Peer-driven moves (a 2xx arrives, a BYE arrives...) are made by ``Call`` itself; this
table says which *local* actions are legal where. An action missing from the table
raises ``LocalProtocolError`` before anything is sent, and the state is unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["CallState", "CallAction", "TU_TRANSITIONS", "Direction"]


class Direction(enum.Enum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class CallState(enum.Enum):
    CALLING = "calling"
    """Outgoing: INVITE sent, no provisional response with a tag yet."""
    EARLY = "early"
    """Outgoing: a provisional response came (ringing)."""
    CANCELLING = "cancelling"
    """Outgoing: we asked to cancel; waiting for the 487 (or a racing 2xx)."""
    INCOMING = "incoming"
    """Incoming: INVITE received, not answered yet."""
    ANSWERED = "answered"
    """Incoming: 2xx sent, waiting for the ACK (RFC 3261 §13.3.1.4)."""
    ESTABLISHED = "established"
    ENDING = "ending"
    """BYE sent, waiting for its response."""
    ENDED = "ended"


class CallAction(enum.Enum):
    RING = "ring"
    ANSWER = "answer"
    REJECT = "reject"
    CANCEL = "cancel"
    BYE = "hang up"
    REINVITE = "re-INVITE"
    INFO = "send INFO"


S = CallState
A = CallAction

TU_TRANSITIONS: Mapping[tuple[CallState, CallAction], CallState] = {
    # RFC 3261 §13.3.1.1: the UAS may send any number of provisional responses.
    (S.INCOMING, A.RING): S.INCOMING,
    # §13.3.1.4: accept with a 2xx, then wait for the ACK.
    (S.INCOMING, A.ANSWER): S.ANSWERED,
    # §13.3.1.3: reject with a final non-2xx.
    (S.INCOMING, A.REJECT): S.ENDED,
    # §9.1: CANCEL only for a pending INVITE (sent once a provisional arrived).
    (S.CALLING, A.CANCEL): S.CANCELLING,
    (S.EARLY, A.CANCEL): S.CANCELLING,
    # §15: BYE in a confirmed dialog. The callee "MUST NOT send a BYE on a confirmed
    # dialog until it has received an ACK for its 2xx" - in ANSWERED the BYE is held
    # until the ACK (or the give-up of §13.3.1.4).
    (S.ESTABLISHED, A.BYE): S.ENDING,
    (S.ANSWERED, A.BYE): S.ENDING,
    # §14.1 re-INVITE and RFC 6086 §4.2 INFO only within an established session.
    (S.ESTABLISHED, A.REINVITE): S.ESTABLISHED,
    (S.ESTABLISHED, A.INFO): S.ESTABLISHED,
}
"""(state, local action) -> next state."""
