"""Building responses to requests (RFC 3261 §8.2.6)."""

from __future__ import annotations

from sipcore.address import parse_name_address
from sipcore.errors import RemoteProtocolError
from sipcore.headers import Headers
from sipcore.message import Request, Response
from sipcore.params import check_header_text

__all__ = ["make_response", "stateless_reply"]


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


def stateless_reply(headers: Headers, status: int, to_tag: str) -> Response | None:
    """A ``status`` response to a request that could not be read whole, or ``None``.

    A malformed request still deserves an answer when its Via, From, To, Call-ID and
    CSeq can be salvaged (RFC 4475 §3.1.2); an ACK is never answered (§17.2.3), and
    neither is a message without a Via (there would be nowhere to send the answer).

    Args:
        headers: the request's header section (``salvage_headers``).
        status: the status to answer (the error's hint).
        to_tag: added to To when it has none (§8.2.6.2: "the UAS MUST add a tag").

    Returns:
        The response, or ``None`` for an ACK or when Via, Call-ID or CSeq is missing.
    """
    vias = headers.get_all("via")
    cseq = headers.get("cseq") or ""
    if not vias or not headers.get("call-id") or not cseq or cseq.split()[-1:] == ["ACK"]:
        return None
    response = Response(status)
    for value in vias:
        response.headers.add("Via", value)
    for name in ("From", "To", "Call-ID", "CSeq"):
        text = headers.get(name)
        if text is not None:
            if name == "To" and _lacks_tag(text):
                text = f"{text};tag={to_tag}"
            response.headers.add(name, text)
    response.headers.add("Content-Length", "0")
    return response


def _lacks_tag(to: str) -> bool:
    """Whether a To value reads as an address without a tag (an unreadable one is left alone)."""
    try:
        return parse_name_address(to, "To").tag is None
    except RemoteProtocolError:
        return False
