"""What a stateful proxy remembers about one forwarded request (RFC 3261 §16).

A ``ResponseContext`` is §16's "response context": the server transaction towards the
caller (by key), one ``Branch`` per target with its client transaction, and what has
been sent upstream. ``best_response`` is §16.7 step 6. The ``LocalServer`` drives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipcore.message import Request, Response
from sipcore.server.flow import Flow
from sipcore.transactions import Transaction

__all__ = ["Branch", "ResponseContext", "best_response", "RECORD_ROUTE_METHODS"]

RECORD_ROUTE_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
"""Dialog-creating methods we Record-Route (as the suite's Kamailio does)."""

# §16.7 step 6: "The proxy SHOULD give preference to responses that provide information
# affecting resubmission of this request, such as 401, 407, 415, 420, and 484 if the 4xx
# class is chosen."
_RESUBMISSION_HINTS = (401, 407, 415, 420, 484)


@dataclass(slots=True)
class Branch:
    """One target of a forwarded request (§16.6): its client transaction and progress."""

    tx: Transaction
    """The client transaction towards the target."""
    flow: Flow
    """The flow the request went out on."""
    provisional: bool = False
    """A provisional response arrived (a CANCEL may now be sent, §9.1)."""
    final: Response | None = None
    """The final response (already without our Via), or a synthetic 408/480."""
    cancel_reason: str | None = None
    """Set once the branch is to be cancelled: the Reason header value ("" for none)."""
    cancel_sent: bool = False
    timer_c: float | None = None
    """RFC 3261 §16.6 step 11: when this INVITE branch is given up on."""

    @property
    def pending(self) -> bool:
        """No final response yet."""
        return self.final is None


@dataclass(slots=True)
class ResponseContext:
    """One proxied request and its branches (§16.5: the "response context")."""

    key: tuple[str, ...]
    """The key of the server transaction towards the caller."""
    source: Flow
    request: Request
    """The request as received (before our changes)."""
    branches: list[Branch] = field(default_factory=list)
    final_sent: bool = False
    """A final response went upstream (for INVITE: a 2xx, or the best non-2xx)."""

    @property
    def invite(self) -> bool:
        """Whether the request is an INVITE (2xx responses all go upstream, §16.7)."""
        return self.request.method == "INVITE"


def best_response(finals: list[Response]) -> Response:
    """§16.7 step 6: the final response to forward once every branch has answered.

    "It MUST choose from the 6xx class responses if any exist in the context. If no 6xx
    class responses are present, the proxy SHOULD choose from the lowest response class
    stored in the response context." Within 4xx, challenges and other resubmission
    hints come first.

    Raises:
        ValueError: ``finals`` is empty.
    """
    if not finals:
        raise ValueError("no final responses to choose from")
    six = [r for r in finals if r.status_code >= 600]
    if six:
        return six[0]
    lowest = min(r.status_code // 100 for r in finals)
    candidates = [r for r in finals if r.status_code // 100 == lowest]
    for hint in _RESUBMISSION_HINTS:
        for response in candidates:
            if response.status_code == hint:
                return response
    return candidates[0]
