"""Which transaction a message belongs to (RFC 3261 §17.1.3 and §17.2.3)."""

from __future__ import annotations

from sipcore.message import Request, Response
from sipcore.via import MAGIC_COOKIE

__all__ = ["client_key", "client_key_of", "server_key"]


def client_key(branch: str, method: str) -> tuple[str, ...]:
    """The key of a client transaction: its branch and CSeq method.

    §17.1.3: a response matches "if the response has the same value of the branch
    parameter in the top Via header field as the branch parameter in the top Via header
    field of the request that created the transaction [and] the method parameter in the
    CSeq header field matches the method of the request" (CANCEL has its own).
    """
    return (branch, method)


def client_key_of(response: Response) -> tuple[str, ...] | None:
    """The client key a received response points at, or ``None`` if it has no branch."""
    vias = response.via
    if not vias or not vias[0].branch:
        return None
    return client_key(vias[0].branch, response.cseq.method)


def server_key(request: Request) -> tuple[str, ...]:
    """The key of the server transaction a request belongs to.

    §17.2.3: with an RFC 3261 branch (magic cookie ``z9hG4bK``), the branch, the top
    Via's sent-by, and the method, where "the ACK method ... matches the INVITE".
    Without one (RFC 2543 peers, RFC 4475 §3.4.1), the Call-ID, From tag, CSeq number,
    top Via and method stand in for the branch.
    """
    top = request.via[0]
    method = "INVITE" if request.method == "ACK" else request.method
    branch = top.branch or ""
    if branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        return (branch, top.sent_by.lower(), method)
    return (
        "rfc2543",
        request.call_id,
        request.from_.tag or "",
        str(request.cseq.seq),
        str(top),
        method,
    )
