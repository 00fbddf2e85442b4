"""Building responses to requests (RFC 3261 §8.2.6)."""

from __future__ import annotations

from sipcore.message import Request, Response
from sipcore.params import check_header_text

__all__ = ["make_response"]


def make_response(
    request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> Response:
    """A response to ``request`` with the headers §8.2.6.2 requires copied.

    "The From field of the response MUST equal the From header field of the request.
    The Call-ID ... MUST equal the Call-ID ... The CSeq ... MUST equal the CSeq ... The
    Via header field values in the response MUST equal the Via header field values in
    the request and MUST maintain the same ordering." The To is copied, with ``to_tag``
    added if the request's To has none (§8.2.6.2: "the UAS MUST add a tag to the To
    header field in the response", except for 100 Trying). For 1xx/2xx to a request that
    may create a dialog, Record-Route is copied too (§12.1.1).

    Args:
        request: the request answered.
        status: 100..699.
        reason: the reason phrase (default the usual one).
        to_tag: the tag to add to To when it has none.

    Raises:
        LocalProtocolError: bad status or reason text.
    """
    if reason is not None:
        check_header_text(reason, "reason phrase")
    response = Response(status, reason)
    h = response.headers
    src = request.headers
    for value in src.get_all("via"):
        h.add("Via", value)
    if status < 300 and request.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
        for value in src.get_all("record-route"):
            h.add("Record-Route", value)
    h.add("From", src.get("from") or "")
    to = src.get("to") or ""
    if to_tag is not None and status != 100 and request.to.tag is None:
        # A parameter after an addr-spec is a header parameter (§20), so appending is
        # right in both forms and keeps the peer's To exactly as written.
        to = f"{to};tag={to_tag}"
    h.add("To", to)
    h.add("Call-ID", src.get("call-id") or "")
    h.add("CSeq", src.get("cseq") or "")
    h.add("Content-Length", "0")
    return response
