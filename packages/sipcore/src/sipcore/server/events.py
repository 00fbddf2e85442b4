"""Events a ``LocalServer`` reports: one frozen class per thing that happened.

Read them with ``LocalServer.next_event()``. Like ``sipcore.events``: plain data, named
in the past tense, never subclassed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipcore.address import NameAddress
from sipcore.server.flow import Flow

__all__ = [
    "UnbindReason",
    "ContactBound",
    "ContactUnbound",
    "RequestForwarded",
    "MessageRejected",
    "ServerEvent",
]


class UnbindReason(enum.Enum):
    """Why a binding went away."""

    REQUESTED = "requested"
    """A REGISTER removed it (expires 0, or Contact ``*``)."""
    EXPIRED = "expired"
    """It was not refreshed in time (RFC 3261 §10.3)."""
    FLOW_CLOSED = "flow closed"
    """The connection it was bound to closed (RFC 5626 §5.3)."""
    REPLACED = "replaced"
    """A REGISTER from the same instance and reg-id moved it to another flow (RFC 5626 §6)."""


@dataclass(frozen=True, slots=True)
class ContactBound:
    """A REGISTER added or refreshed a binding."""

    aor: str
    """The address-of-record, ``sip:user@domain``."""
    contact: NameAddress
    """The Contact as registered (without its ``expires`` parameter)."""
    flow: Flow
    """Where requests for this Contact are sent."""
    expires: int
    """Seconds granted."""
    refreshed: bool
    """Whether the binding existed before."""


@dataclass(frozen=True, slots=True)
class ContactUnbound:
    """A binding went away."""

    aor: str
    contact: NameAddress
    flow: Flow
    reason: UnbindReason


@dataclass(frozen=True, slots=True)
class RequestForwarded:
    """A request was proxied from one flow to another (RFC 3261 §16.6)."""

    method: str
    call_id: str
    source: Flow
    target: Flow
    uri: str
    """The Request-URI it was sent with."""


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A message we could not accept: answered with ``status``, or dropped if ``None``."""

    flow: Flow
    reason: str
    status: int | None
    data: bytes
    """The start of the message (at most 200 bytes), for logs."""


ServerEvent = ContactBound | ContactUnbound | RequestForwarded | MessageRejected
"""Anything ``LocalServer.next_event()`` returns."""
