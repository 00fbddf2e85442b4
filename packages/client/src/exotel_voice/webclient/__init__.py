"""The guide's synchronous ``ExotelWebClient`` facade over the async SDK."""

from __future__ import annotations

from exotel_voice.webclient.account_info import account_from_sip_account_info
from exotel_voice.webclient.client import CLIENT_STATUSES, ExotelWebClient, NotInitialized
from exotel_voice.webclient.web_call import WebCall

__all__ = [
    "ExotelWebClient",
    "WebCall",
    "NotInitialized",
    "CLIENT_STATUSES",
    "account_from_sip_account_info",
]
