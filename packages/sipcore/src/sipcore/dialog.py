"""Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE's 1xx/2xx creates.

A dialog remembers what in-dialog requests need: Call-ID, both tags, both URIs, the
remote target, the route set and the two CSeq spaces. It builds requests by §12.2.1.1
and checks requests it receives by §12.2.2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sipcore.address import NameAddress
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.message import Request, Response
from sipcore.uri import SipUri, Uri

__all__ = ["DialogState", "Dialog"]


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(slots=True)
class Dialog:
    """One dialog, from our side."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddress
    """Our address (From of our requests), without tag."""
    remote_uri: NameAddress
    """The peer's address (To of our requests), without tag."""
    remote_target: Uri
    """Where in-dialog requests go: the peer's Contact (§12.1.1, §12.1.2)."""
    route_set: list[NameAddress] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY

    @property
    def id(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag): the dialog id (§12)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog our INVITE's 1xx (with a To tag) or 2xx created (§12.1.2).

        "The route set MUST be set to the list of URIs in the Record-Route header field
        from the response, taken in reverse order"; "The remote target MUST be set to
        the URI from the Contact header field of the response."

        Raises:
            RemoteProtocolError: the response has no To tag or no Contact.
        """
        to_tag = response.to.tag
        if not to_tag:
            raise RemoteProtocolError("dialog-creating response without a To tag")
        contacts = response.contact
        if not contacts:
            # §12.1.2 requires a Contact; an early dialog from a 1xx can live without one.
            if response.is_success:
                raise RemoteProtocolError("2xx to INVITE without Contact")
            target: Uri = request.uri
        else:
            target = contacts[0].uri
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=to_tag,
            local_uri=request.from_.without_param("tag"),
            remote_uri=response.to.without_param("tag"),
            remote_target=target,
            route_set=list(reversed(response.record_route)),
            local_seq=request.cseq.seq,
            remote_seq=None,
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if response.is_success else DialogState.EARLY,
        )

    @classmethod
    def as_uas(cls, request: Request, local_tag: str, confirmed: bool) -> Dialog:
        """The dialog our 1xx/2xx to an INVITE creates (§12.1.1).

        "The route set MUST be set to the list of URIs in the Record-Route header field
        from the request, taken in order"; "The remote sequence number MUST be set to
        the value of the sequence number in the CSeq header field of the request."

        Raises:
            RemoteProtocolError: the INVITE has no Contact.
        """
        contacts = request.contact
        if not contacts:
            raise RemoteProtocolError("INVITE without Contact")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_uri=request.to.without_param("tag"),
            remote_uri=request.from_.without_param("tag"),
            remote_target=contacts[0].uri,
            route_set=list(request.record_route),
            local_seq=0,
            remote_seq=request.cseq.seq,
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if confirmed else DialogState.EARLY,
        )

    def create_request(self, method: str, *, cseq: int | None = None) -> Request:
        """A new in-dialog request (§12.2.1.1), without Via (the UA adds it).

        Args:
            method: the method.
            cseq: for ACK and CANCEL, the INVITE's CSeq number; otherwise one is taken
                from the local sequence (incremented).

        Raises:
            LocalProtocolError: the dialog is terminated (an ACK is still allowed: a 2xx
                that arrives after the BYE must be acknowledged to stop its
                retransmissions, RFC 3261 §13.2.2.4).
        """
        if self.state is DialogState.TERMINATED and method != "ACK":
            raise LocalProtocolError(f"cannot send {method}: the dialog is terminated")
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        routes = list(self.route_set)
        target: Uri = self.remote_target
        first = routes[0].uri if routes else None
        if isinstance(first, SipUri) and not first.lr:
            # §12.2.1.1 strict routing: "the UAC MUST place the first URI from the route
            # set into the Request-URI ... [and] MUST add the remote target URI ... as the
            # last value in the Route header field."
            routes = [*routes[1:], NameAddress(self.remote_target)]
            target = first.with_params(tuple(p for p in first.params if p[0].lower() != "method"))
        request = Request(method, target)
        h = request.headers
        for route in routes:
            h.add("Route", str(NameAddress(route.uri, None, route.params)))
        h.add("Max-Forwards", "70")
        h.add("From", str(self.local_uri.with_tag(self.local_tag)))
        h.add("To", str(self.remote_uri.with_tag(self.remote_tag)))
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        return request

    def check_request(self, request: Request) -> None:
        """Apply §12.2.2 to a request received in this dialog and advance the remote CSeq.

        Raises:
            RemoteProtocolError: an out-of-order request (status 500, "MUST be rejected
                with a 500 (Server Internal Error) response").
        """
        if request.method in ("ACK", "CANCEL"):
            return
        seq = request.cseq.seq
        if self.remote_seq is not None and seq <= self.remote_seq:
            raise RemoteProtocolError(
                f"CSeq {seq} is not above {self.remote_seq} in this dialog", status_hint=500
            )
        self.remote_seq = seq

    def refresh_target(self, message: Request | Response) -> None:
        """A target refresh (re-INVITE, UPDATE, or their 2xx) replaces the remote target
        with its Contact (§12.2.1.2, §12.2.2)."""
        contacts = message.contact
        if contacts:
            self.remote_target = contacts[0].uri

    def confirm(self) -> None:
        """An early dialog became confirmed (its 2xx)."""
        if self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED

    def terminate(self) -> None:
        """The dialog is over."""
        self.state = DialogState.TERMINATED
