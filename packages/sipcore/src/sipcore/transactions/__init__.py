"""RFC 3261 §17 transactions (with RFC 6026's Accepted states) as table-driven machines."""

from __future__ import annotations

from sipcore.transactions.base import (
    Action,
    Input,
    Notice,
    NoticeKind,
    Timer,
    TimerConfig,
    Transaction,
)
from sipcore.transactions.client_invite import ClientInviteState, ClientInviteTransaction
from sipcore.transactions.client_non_invite import (
    ClientNonInviteState,
    ClientNonInviteTransaction,
)
from sipcore.transactions.matching import client_key, client_key_of, server_key
from sipcore.transactions.server_invite import ServerInviteState, ServerInviteTransaction
from sipcore.transactions.server_non_invite import (
    ServerNonInviteState,
    ServerNonInviteTransaction,
)

__all__ = [
    "Action",
    "Input",
    "Notice",
    "NoticeKind",
    "Timer",
    "TimerConfig",
    "Transaction",
    "ClientInviteState",
    "ClientInviteTransaction",
    "ClientNonInviteState",
    "ClientNonInviteTransaction",
    "ServerInviteState",
    "ServerInviteTransaction",
    "ServerNonInviteState",
    "ServerNonInviteTransaction",
    "client_key",
    "client_key_of",
    "server_key",
]
