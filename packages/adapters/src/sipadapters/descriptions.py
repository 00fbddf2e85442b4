"""The session description we last sent on each call: what a target refresh repeats.

After a reconnection the peer still sends its in-dialog requests to our old flow (a
proxy such as Kamailio aliases our Contact to the connection it came on, and that
connection is gone). A re-INVITE is a target refresh request (RFC 3261 §12.2: "a request
that can modify the remote target of a dialog"), and the proxy aliases its Contact to
the new connection. To change nothing else, it carries the description we last sent,
unchanged: RFC 3264 §8 "If the version in the origin line does not increment, the SDP
MUST be identical to the SDP with that version number", i.e. an identical SDP is an
offer that modifies nothing.

The driver sees every message it sends and every event, so it learns the description
from those: no help from the application (or the media layer) is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.errors import RemoteProtocolError
from sipcore.events import CallAnswered, CallEnded, Event, ReinviteAnswered, ReinviteFailed
from sipcore.message import Request, parse_message

__all__ = ["SentDescriptions", "Description"]

Description = tuple[bytes, str]
"""A message body and its Content-Type."""

_SDP = "application/sdp"


@dataclass(slots=True)
class _CallDescriptions:
    current: Description | None = None
    """The description of the session as it stands (our last accepted offer or answer)."""
    offered: Description | None = None
    """An offer of ours (INVITE or re-INVITE) not answered yet."""


class SentDescriptions:
    """What session description each call is running on our side."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[str, _CallDescriptions] | None = None  # made with the first call

    def current(self, call_id: str) -> Description | None:
        """Our side of the session as it stands on ``call_id``, if known."""
        entry = self._calls.get(call_id) if self._calls is not None else None
        return entry.current if entry is not None else None

    def sent(self, data: bytes) -> None:
        """Learn from a message that went out (only INVITEs and 2xx responses matter)."""
        if not data.startswith((b"INVITE ", b"SIP/2.0 2")):
            return
        try:
            message = parse_message(data)
            content_type = message.content_type
            call_id = message.call_id
            method = message.cseq.method
        except RemoteProtocolError:
            return
        if not message.body or content_type is None or content_type.essence != _SDP:
            return
        description = (message.body, str(content_type))
        if self._calls is None:
            self._calls = {}
        entry = self._calls.setdefault(call_id, _CallDescriptions())
        if isinstance(message, Request):
            entry.offered = description  # our offer: it counts once the peer accepts it
        elif method in ("INVITE", "UPDATE"):
            entry.current = description  # our answer (RFC 3264 §6): the session is now this

    def event(self, event: Event) -> None:
        """Learn from an event: an offer accepted, refused, or the call over."""
        if self._calls is None:
            return  # no session description sent yet: nothing to learn
        if isinstance(event, CallEnded):
            self._calls.pop(event.call_id, None)
            return
        if not isinstance(event, CallAnswered | ReinviteAnswered | ReinviteFailed):
            return
        entry = self._calls.get(event.call_id)
        if entry is None:
            return
        if not isinstance(event, ReinviteFailed) and entry.offered is not None:
            entry.current = entry.offered
        # RFC 3261 §14.1: "If a UA receives a non-2xx final response to a re-INVITE, the
        # session parameters MUST remain unchanged, as if no re-INVITE had been issued."
        entry.offered = None
