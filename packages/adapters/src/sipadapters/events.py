"""What the driver reports about the connection itself (beside sipcore's events)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Connected",
    "ConnectionLost",
    "ReconnectScheduled",
    "ConnectFailed",
    "ReconnectAbandoned",
    "TargetRefreshSent",
    "DriverEvent",
]


@dataclass(frozen=True, slots=True)
class Connected:
    """The transport is up (first time or after a reconnection)."""

    url: str
    attempt: int
    """0 for the first connection, n for the n-th reconnection attempt."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The transport broke or was closed by the server; calls keep their dialogs."""

    url: str
    error: str


@dataclass(frozen=True, slots=True)
class ReconnectScheduled:
    """The next connection attempt will be made after ``delay`` seconds."""

    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """A reconnection attempt failed."""

    attempt: int
    error: str


@dataclass(frozen=True, slots=True)
class ReconnectAbandoned:
    """No more attempts: the policy's limit was reached, or the credentials were refused."""

    reason: str


@dataclass(frozen=True, slots=True)
class TargetRefreshSent:
    """After a reconnection, a re-INVITE went out on this established call.

    It repeats the session description we last sent, unchanged, so that only the remote
    target changes: the peer's requests (BYE above all) then reach us over the new
    connection. Its outcome arrives as ``ReinviteAnswered`` or ``ReinviteFailed``.
    """

    call_id: str


DriverEvent = (
    Connected
    | ConnectionLost
    | ReconnectScheduled
    | ConnectFailed
    | ReconnectAbandoned
    | TargetRefreshSent
)
"""Any connection event."""
