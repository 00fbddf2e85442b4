"""Exotel's REST API for calls: place a call between two numbers and look one up.

The integration guide (section 6, "Integration with Exotel APIs") has a web client call a
phone through Exotel's "connect two numbers" API::

    curl -X POST https://<api_key>:<api_token><subdomain>/v1/Accounts/<account_sid>/Calls/connect \\
        -d "From=<sip_user_id>" -d "CallerId=<caller_id>" -d "To=<phone number>"

Facts from Exotel's public API documentation (developer.exotel.com) that this module relies
on:

* "Make a call" (``/api/make-a-call-api``): ``POST /v1/Accounts/<sid>/Calls/connect`` with
  form fields ``From``, ``To``, ``CallerId`` (mandatory) and optional ones; "append .json"
  for a JSON response (XML otherwise), which is ``{"Call": {"Sid": ..., "Status": ...}}``.
* "Call details" (``/api/call-details``): ``GET /v1/Accounts/<sid>/Calls/<CallSid>``, the
  same ``{"Call": {...}}`` shape.
* The subdomain is the account's region: ``api.exotel.com`` (Singapore) or
  ``api.in.exotel.com`` (Mumbai); the docs write it ``@api.exotel.com``.
* HTTP Basic authentication, API key as user name and API token as password (RFC 7617).
* Errors carry a non-2xx status and ``{"RestException": {"Status", "Message", "Code"}}``;
  429 means the rate limit (200 requests/minute for the Voice API) and may carry
  ``Retry-After``.

One private core (``_RestCore``) builds every request and reads every response; the
synchronous ``ExotelRestClient`` and the asynchronous ``AsyncExotelRestClient`` only move
bytes with httpx. Nothing is retried: ``connect_call`` places a real call, and a second
POST after a lost response would place a second one.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from importlib import metadata
from os import PathLike
from typing import Any, Generic, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlsplit

import httpx

from exotel_voice.errors import ConfigurationError, ExotelVoiceError

__all__ = [
    "ExotelRestClient",
    "AsyncExotelRestClient",
    "CallRecord",
    "ConnectCallOptions",
    "ExotelApiError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ApiConnectionError",
    "ApiTimeoutError",
    "MalformedResponseError",
    "DEFAULT_SUBDOMAIN",
]

logger = logging.getLogger(__name__)

DEFAULT_SUBDOMAIN = "api.exotel.com"
"""Exotel's Singapore cluster; India-based accounts use ``api.in.exotel.com``."""

_T = TypeVar("_T")


# --------------------------------------------------------------------------- errors


class ExotelApiError(ExotelVoiceError):
    """Exotel answered with an error, or could not be asked.

    ``status_code`` is the HTTP status (``None`` when no response arrived), ``code`` the
    ``RestException`` ``Code`` as text (``None`` if absent) and ``message`` its ``Message``
    (or the HTTP reason phrase when the body has no ``RestException``).
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        text = message if status_code is None else f"HTTP {status_code}: {message}"
        if code is not None:
            text = f"{text} (code {code})"
        super().__init__(text)
        self.message = message
        self.status_code = status_code
        self.code = code


class AuthenticationError(ExotelApiError):
    """401 or 403: the API key/token were refused, or the account may not do this."""


class NotFoundError(ExotelApiError):
    """404: no such account or call."""


class RateLimitError(ExotelApiError):
    """429: too many requests; ``retry_after`` is the server's wait in seconds, if given."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.retry_after = retry_after


class ServerError(ExotelApiError):
    """5xx: Exotel failed; the docs advise retrying with backoff."""


class ApiConnectionError(ExotelApiError):
    """Exotel could not be reached, or the connection broke before a response came.

    For ``connect_call`` the request may still have reached Exotel and placed the call:
    check with ``get_call`` or the StatusCallback before trying again.
    """


class ApiTimeoutError(ApiConnectionError):
    """No response within the client's ``timeout``."""


class MalformedResponseError(ExotelApiError):
    """A success status with a body that is not the documented ``{"Call": {...}}`` JSON."""


# --------------------------------------------------------------------------- call record


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call as Exotel describes it (the ``Call`` object of a Calls response)."""

    sid: str
    """``Sid``: Exotel's identifier of the call; give it to ``get_call``."""
    status: str | None
    """``Status``: ``queued``, ``ringing``, ``in-progress``, ``completed``, ``failed``,
    ``busy``, ``no-answer`` or ``canceled``."""
    from_: str | None
    """``From``: the number (or SIP user) called first."""
    to: str | None
    """``To``: the number connected after ``From`` answers."""
    direction: str | None
    """``Direction``: ``inbound``, ``outbound-dial`` or ``outbound-api``."""
    date_created: str | None
    """``DateCreated`` exactly as sent (``YYYY-MM-DD HH:mm:ss``; Exotel gives no zone)."""
    raw: Mapping[str, Any] = field(hash=False, repr=False)
    """The whole ``Call`` object, read-only, for fields without an attribute here."""

    @classmethod
    def from_json(cls, body: object) -> CallRecord:
        """Read a decoded Calls response body (``{"Call": {...}}``).

        Args:
            body: the decoded JSON document.

        Returns:
            The call it describes.

        Raises:
            MalformedResponseError: there is no ``Call`` object, or it has no ``Sid``.
        """
        call = body.get("Call") if isinstance(body, dict) else None
        if not isinstance(call, dict):
            raise MalformedResponseError('response has no "Call" object')
        sid = call.get("Sid")
        if not isinstance(sid, str) or not sid:
            raise MalformedResponseError('response "Call" has no "Sid"')
        return cls(
            sid=sid,
            status=_scalar_text(call.get("Status")),
            from_=_scalar_text(call.get("From")),
            to=_scalar_text(call.get("To")),
            direction=_scalar_text(call.get("Direction")),
            date_created=_scalar_text(call.get("DateCreated")),
            raw=types.MappingProxyType(call),
        )


def _scalar_text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


# --------------------------------------------------------------------------- validation

# RFC 1123 §2.1 host name: dot-separated labels of letters, digits and hyphens, a label
# neither starting nor ending with a hyphen, at most 63 octets, 253 in all. `\Z`, not `$`:
# `$` also matches before a trailing newline.
_HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)
# C0 controls and DEL: CR/LF would split a header or a log line; none belongs in a field.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(name: str, value: object, *, max_length: int | None = None) -> str:
    """A non-empty string without control characters; the error names ``name``."""
    if not isinstance(value, str):
        raise ConfigurationError(name, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ConfigurationError(name, "is empty")
    if _CONTROL.search(value):
        raise ConfigurationError(name, "contains a line break or control character")
    if max_length is not None and len(value) > max_length:
        raise ConfigurationError(name, f"is longer than {max_length} characters")
    return value


def _secret(name: str, value: object) -> str:
    """Like ``_text`` but the message never shows the value."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(name, "must be a non-empty string")
    if _CONTROL.search(value):
        raise ConfigurationError(name, "contains a line break or control character")
    return value


def _path_segment(name: str, value: object) -> str:
    """A value placed in the URL path, percent-encoded so it stays one segment."""
    text = _text(name, value)
    if text in (".", ".."):
        # RFC 3986 §5.2.4 would remove these dot-segments from the path.
        raise ConfigurationError(name, "cannot be '.' or '..'")
    return quote(text, safe="")


def _base_url_from(
    subdomain: str | None, base_url: str | None, *, allow_insecure_http: bool
) -> str:
    if base_url is not None and subdomain is not None:
        raise ConfigurationError("base_url", "give either subdomain or base_url, not both")
    if base_url is None:
        host = DEFAULT_SUBDOMAIN if subdomain is None else subdomain
        if not isinstance(host, str):
            raise ConfigurationError("subdomain", "must be a string")
        # The docs write the subdomain as it follows the credentials: "@api.exotel.com".
        host = host.removeprefix("@")
        if not _HOST_NAME.match(host):
            raise ConfigurationError(
                "subdomain",
                f"must be a host name such as 'api.in.exotel.com', not {host!r} "
                "(use base_url for a full URL)",
            )
        return f"https://{host.lower()}"
    if not isinstance(base_url, str) or _CONTROL.search(base_url) or " " in base_url:
        raise ConfigurationError("base_url", "must be a URL without spaces or control characters")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("base_url", f"not a URL: {exc}") from None
    allowed = ("https", "http") if allow_insecure_http else ("https",)
    if parts.scheme not in allowed:
        raise ConfigurationError(
            "base_url",
            "must be an https:// URL (plain http:// needs allow_insecure_http=True)",
        )
    if not parts.hostname:
        raise ConfigurationError("base_url", "has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("base_url", "must not carry credentials; use api_key/api_token")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ConfigurationError("base_url", "must not have a query or fragment")
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # an IPv6 literal goes back in brackets
        netloc = f"[{parts.hostname}]" if port is None else f"[{parts.hostname}]:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


# --------------------------------------------------------------------------- options


class ConnectCallOptions(TypedDict, total=False):
    """Optional fields of ``Calls/connect``, by their Python names (Exotel's in brackets)."""

    call_type: str
    """[CallType] ``"trans"`` for transactional calls."""
    time_limit: int
    """[TimeLimit] longest call, in seconds (at most 14400, four hours)."""
    time_out: int
    """[TimeOut] seconds to ring each leg."""
    wait_url: str
    """[WaitUrl] a WAV played to ``From`` while ``To`` rings."""
    record: bool
    """[Record] record the conversation."""
    recording_channels: Literal["single", "dual"]
    """[RecordingChannels]"""
    recording_format: Literal["mp3", "mp3-hq"]
    """[RecordingFormat]"""
    stream_url: str
    """[StreamUrl] a ``wss://`` URL to stream the call's audio to."""
    stream_begin: str
    """[StreamBegin] when streaming starts (``"at Leg1Connect"``...)."""
    custom_field: str
    """[CustomField] your value (an order id...), handed back in StatusCallback; <= 128."""
    start_playback_to: Literal["Callee", "Both"]
    """[StartPlaybackToNew] who hears ``start_playback_value`` before the call."""
    start_playback_value: str
    """[StartPlaybackValueNew] audio URL played before the call."""
    status_callback: str
    """[StatusCallback] URL Exotel POSTs the call's status to."""
    status_callback_events: Sequence[Literal["terminal", "answered"]]
    """[StatusCallbackEvents] the events posted to ``status_callback``."""
    status_callback_content_type: Literal["multipart/form-data", "application/json"]
    """[StatusCallbackContentType] how ``status_callback`` is posted."""


_FormFields = list[tuple[str, str]]
_Encoder = Callable[[str, str, object], _FormFields]


def _encode_text(max_length: int | None = None) -> _Encoder:
    def encode(param: str, form_name: str, value: object) -> _FormFields:
        return [(form_name, _text(param, value, max_length=max_length))]

    return encode


def _encode_seconds(maximum: int | None = None) -> _Encoder:
    def encode(param: str, form_name: str, value: object) -> _FormFields:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(param, "must be a whole number of seconds")
        if value < 1 or (maximum is not None and value > maximum):
            bound = "" if maximum is None else f" and at most {maximum}"
            raise ConfigurationError(param, f"must be at least 1{bound}")
        return [(form_name, str(value))]

    return encode


def _encode_url(*schemes: str) -> _Encoder:
    def encode(param: str, form_name: str, value: object) -> _FormFields:
        url = _text(param, value)
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.netloc or " " in url:
            raise ConfigurationError(param, f"must be a {' or '.join(schemes)} URL")
        return [(form_name, url)]

    return encode


def _encode_boolean(param: str, form_name: str, value: object) -> _FormFields:
    if not isinstance(value, bool):
        raise ConfigurationError(param, "must be True or False")
    return [(form_name, "true" if value else "false")]


def _encode_events(param: str, form_name: str, value: object) -> _FormFields:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ConfigurationError(param, "must be a non-empty list such as ['terminal']")
    # An array field in a form body: Exotel's examples index it, StatusCallbackEvents[0]=...
    return [(f"{form_name}[{index}]", _text(param, event)) for index, event in enumerate(value)]


_CONNECT_OPTIONS: Mapping[str, tuple[str, _Encoder]] = types.MappingProxyType(
    {
        "call_type": ("CallType", _encode_text()),
        "time_limit": ("TimeLimit", _encode_seconds(maximum=14400)),
        "time_out": ("TimeOut", _encode_seconds()),
        "wait_url": ("WaitUrl", _encode_url("https", "http")),
        "record": ("Record", _encode_boolean),
        "recording_channels": ("RecordingChannels", _encode_text()),
        "recording_format": ("RecordingFormat", _encode_text()),
        "stream_url": ("StreamUrl", _encode_url("wss", "ws")),
        "stream_begin": ("StreamBegin", _encode_text()),
        "custom_field": ("CustomField", _encode_text(max_length=128)),
        "start_playback_to": ("StartPlaybackToNew", _encode_text()),
        "start_playback_value": ("StartPlaybackValueNew", _encode_url("https", "http")),
        "status_callback": ("StatusCallback", _encode_url("https", "http")),
        "status_callback_events": ("StatusCallbackEvents", _encode_events),
        "status_callback_content_type": ("StatusCallbackContentType", _encode_text()),
    }
)


# --------------------------------------------------------------------------- the core


@dataclass(frozen=True, slots=True)
class _Operation(Generic[_T]):
    """One API request, ready to send, and how to read its success body."""

    method: Literal["GET", "POST"]
    url: str
    form: _FormFields | None
    read: Callable[[object], _T]


def _user_agent() -> str:
    try:
        version = metadata.version("exotel-voice")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"exotel-voice/{version} (python-httpx/{httpx.__version__})"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait, from ``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or HTTP-date).

    An HTTP-date is measured against the response's own ``Date`` (RFC 9110 §6.6.1), so no
    local clock is read; without ``Date`` it gives ``None``.
    """
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        wait = parsedate_to_datetime(value) - parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return max(0.0, wait.total_seconds())


def _describe(exc: BaseException) -> str:
    """The first non-empty message down the exception's cause chain (trio's are bare)."""
    seen: BaseException | None = exc
    while seen is not None:
        if str(seen):
            return f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _error_for(response: httpx.Response) -> ExotelApiError:
    """The exception for a non-2xx response, from its status and ``RestException``."""
    status = response.status_code
    message = response.reason_phrase or f"HTTP {status}"
    code: str | None = None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    exception = body.get("RestException") if isinstance(body, dict) else None
    if isinstance(exception, dict):
        if isinstance(exception.get("Message"), str) and exception["Message"]:
            message = exception["Message"]
        if exception.get("Code") is not None:
            code = str(exception["Code"])
    if status in (401, 403):
        return AuthenticationError(message, status_code=status, code=code)
    if status == 404:
        return NotFoundError(message, status_code=status, code=code)
    if status == 429:
        return RateLimitError(
            message, status_code=status, code=code, retry_after=_retry_after(response)
        )
    if status >= 500:
        return ServerError(message, status_code=status, code=code)
    return ExotelApiError(message, status_code=status, code=code)


class _RestCore:
    """Everything but the I/O: configuration, request building, response reading."""

    __slots__ = ("_auth", "_calls", "_headers", "_timeout", "_verify", "account_sid", "base_url")

    def __init__(
        self,
        api_key: str,
        api_token: str,
        account_sid: str,
        *,
        subdomain: str | None,
        base_url: str | None,
        allow_insecure_http: bool,
        timeout: float,
        ca_file: str | PathLike[str] | None,
    ) -> None:
        key = _secret("api_key", api_key)
        if ":" in key:
            # RFC 7617 §2: "a user-id containing a colon character is invalid".
            raise ConfigurationError("api_key", "must not contain ':'")
        token = _secret("api_token", api_token)
        self.account_sid = _text("account_sid", account_sid)
        self.base_url = _base_url_from(subdomain, base_url, allow_insecure_http=allow_insecure_http)
        sid = _path_segment("account_sid", self.account_sid)
        self._calls = f"{self.base_url}/v1/Accounts/{sid}/Calls"
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError("timeout", "must be a positive number of seconds")
        self._timeout = httpx.Timeout(float(timeout))
        # The credentials live only inside httpx's BasicAuth, which sends them as the
        # Authorization header (never in the URL, so never in a log line or an error).
        self._auth = httpx.BasicAuth(key, token)
        self._headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        self._verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            try:
                self._verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError("ca_file", f"cannot load CA certificates: {exc}") from None

    def http_options(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client`` / ``httpx.AsyncClient``."""
        return {
            "auth": self._auth,
            "headers": self._headers,
            "timeout": self._timeout,
            "verify": self._verify,
            "follow_redirects": False,
        }

    def connect_call(
        self, from_: str, to: str, caller_id: str, options: Mapping[str, object]
    ) -> _Operation[CallRecord]:
        """The ``Calls/connect.json`` POST; raises ``ConfigurationError`` before any I/O."""
        form: _FormFields = [
            ("From", _text("from_", from_)),
            ("To", _text("to", to)),
            ("CallerId", _text("caller_id", caller_id)),
        ]
        for param, value in options.items():
            if param not in _CONNECT_OPTIONS:
                raise ConfigurationError(param, "is not a field of Exotel's Calls/connect")
            if value is None:
                continue
            form_name, encode = _CONNECT_OPTIONS[param]
            form += encode(param, form_name, value)
        return _Operation("POST", f"{self._calls}/connect.json", form, CallRecord.from_json)

    def get_call(self, call_sid: str) -> _Operation[CallRecord]:
        """The ``Calls/<CallSid>.json`` GET; raises ``ConfigurationError`` before any I/O."""
        sid = _path_segment("call_sid", call_sid)
        return _Operation("GET", f"{self._calls}/{sid}.json", None, CallRecord.from_json)

    def build_request(
        self, http: httpx.Client | httpx.AsyncClient, operation: _Operation[Any]
    ) -> httpx.Request:
        """The httpx request for ``operation``, logged without credentials or values."""
        fields = [name for name, _ in operation.form or ()]
        logger.debug("Exotel %s %s fields=%s", operation.method, operation.url, fields)
        # httpx form-encodes a mapping in order, as application/x-www-form-urlencoded.
        data = dict(operation.form) if operation.form is not None else None
        return http.build_request(operation.method, operation.url, data=data)

    @staticmethod
    @contextmanager
    def transport_errors(operation: _Operation[Any]) -> Iterator[None]:
        """Turn httpx's request exceptions into ``ExotelApiError``s (no status code)."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ApiTimeoutError(
                f"no response from Exotel in time ({operation.method} {operation.url}): {exc}"
            ) from exc
        except httpx.DecodingError as exc:
            raise MalformedResponseError(f"undecodable response body: {exc}") from exc
        except httpx.RequestError as exc:
            raise ApiConnectionError(
                f"could not reach Exotel ({operation.method} {operation.url}): {_describe(exc)}"
            ) from exc

    @staticmethod
    def read_response(operation: _Operation[_T], response: httpx.Response) -> _T:
        """The result of ``operation`` from its response, or the exception it stands for."""
        logger.debug("Exotel %s %s -> %d", operation.method, operation.url, response.status_code)
        if not response.is_success:
            raise _error_for(response)
        try:
            body = json.loads(response.content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no Content-Type")
            raise MalformedResponseError(
                f"response is not JSON ({kind}): {response.content[:80]!r}",
                status_code=response.status_code,
            ) from None
        try:
            return operation.read(body)
        except MalformedResponseError as exc:
            raise MalformedResponseError(exc.message, status_code=response.status_code) from None


# --------------------------------------------------------------------------- the clients

_HttpT = TypeVar("_HttpT", httpx.Client, httpx.AsyncClient)


class _ClientBase(Generic[_HttpT]):
    """Construction and description shared by the sync and async clients."""

    _http: _HttpT

    def __init__(
        self,
        api_key: str,
        api_token: str,
        account_sid: str,
        *,
        subdomain: str | None = None,
        base_url: str | None = None,
        allow_insecure_http: bool = False,
        timeout: float = 30.0,
        ca_file: str | PathLike[str] | None = None,
    ) -> None:
        """Check the configuration and make a connection pool (nothing is sent yet).

        Args:
            api_key: the API key (Basic auth user name); never logged or shown.
            api_token: the API token (Basic auth password); never logged or shown.
            account_sid: the "Account sid" from the dashboard's API settings.
            subdomain: the region's API host, ``api.exotel.com`` (the default) or
                ``api.in.exotel.com``; a leading ``@``, as the docs write it, is accepted.
            base_url: instead of ``subdomain``, the root URL ``https://host[:port][/prefix]``
                of a private deployment or a test server.
            allow_insecure_http: let ``base_url`` be plain ``http://``.
            timeout: seconds allowed to connect, to send, and for each read.
            ca_file: a PEM file of CA certificates to trust instead of the default ones.

        Raises:
            ConfigurationError: a value is missing or malformed (the message names it).
        """
        self._core = _RestCore(
            api_key,
            api_token,
            account_sid,
            subdomain=subdomain,
            base_url=base_url,
            allow_insecure_http=allow_insecure_http,
            timeout=timeout,
            ca_file=ca_file,
        )
        self._http = self._make_http(self._core.http_options())

    def _make_http(self, options: dict[str, Any]) -> _HttpT:
        raise NotImplementedError

    @property
    def account_sid(self) -> str:
        """The account whose calls this client places and reads."""
        return self._core.account_sid

    @property
    def base_url(self) -> str:
        """The root URL requests go to, e.g. ``https://api.exotel.com``."""
        return self._core.base_url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(account_sid={self.account_sid!r}, base_url={self.base_url!r})"
        )


class ExotelRestClient(_ClientBase[httpx.Client]):
    """Exotel's call API from synchronous code; use it as a context manager or ``close()`` it.

    Example::

        with ExotelRestClient(key, token, sid, subdomain="api.in.exotel.com") as exotel:
            call = exotel.connect_call("agent_sip_user", "+919876543210", "08047112233")
            print(call.sid, call.status)
    """

    def _make_http(self, options: dict[str, Any]) -> httpx.Client:
        return httpx.Client(**options)

    def _execute(self, operation: _Operation[_T]) -> _T:
        request = self._core.build_request(self._http, operation)
        with self._core.transport_errors(operation):
            response = self._http.send(request)
        return self._core.read_response(operation, response)

    def connect_call(
        self, from_: str, to: str, caller_id: str, **options: Unpack[ConnectCallOptions]
    ) -> CallRecord:
        """Place a call: Exotel rings ``from_`` and, once answered, connects it to ``to``.

        Sends one ``POST /v1/Accounts/<sid>/Calls/connect.json`` and never retries it.

        Args:
            from_: called first: the web client's SIP user id, or the agent's number.
            to: the number connected once ``from_`` answers (preferably E.164).
            caller_id: your ExoPhone (Exotel virtual number), shown to both parties.
            **options: optional documented fields, see ``ConnectCallOptions``.

        Returns:
            The new call (its ``status`` is typically ``"in-progress"`` or ``"queued"``).

        Raises:
            ConfigurationError: a field is empty, has a line break or control character, or
                is unknown; raised before anything is sent.
            AuthenticationError: 401 or 403.
            RateLimitError: 429, with ``retry_after`` when the server gave one.
            ServerError: 5xx.
            ExotelApiError: any other refusal, with Exotel's ``message`` and ``code``.
            ApiConnectionError: no response (``ApiTimeoutError`` when too slow); the call
                may have been placed all the same.
            MalformedResponseError: a success status without the documented JSON.
        """
        return self._execute(self._core.connect_call(from_, to, caller_id, options))

    def get_call(self, call_sid: str) -> CallRecord:
        """Fetch a call's details: ``GET /v1/Accounts/<sid>/Calls/<call_sid>.json``.

        Args:
            call_sid: the ``sid`` of a ``CallRecord`` (or a CallSid from a webhook).

        Returns:
            The call as Exotel knows it now; ``raw`` has Duration, Price, RecordingUrl...

        Raises:
            ConfigurationError: ``call_sid`` is empty or has a control character.
            NotFoundError: 404, no such call.
            ExotelApiError: otherwise as ``connect_call``.
        """
        return self._execute(self._core.get_call(call_sid))

    def close(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> ExotelRestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncExotelRestClient(_ClientBase[httpx.AsyncClient]):
    """Exotel's call API for asyncio or trio; use ``async with`` or ``await aclose()``.

    The methods are those of ``ExotelRestClient``, awaited.
    """

    def _make_http(self, options: dict[str, Any]) -> httpx.AsyncClient:
        return httpx.AsyncClient(**options)

    async def _execute(self, operation: _Operation[_T]) -> _T:
        request = self._core.build_request(self._http, operation)
        with self._core.transport_errors(operation):
            response = await self._http.send(request)
        return self._core.read_response(operation, response)

    async def connect_call(
        self, from_: str, to: str, caller_id: str, **options: Unpack[ConnectCallOptions]
    ) -> CallRecord:
        """Place a call; as ``ExotelRestClient.connect_call``, awaited.

        Args:
            from_: called first: the web client's SIP user id, or the agent's number.
            to: the number connected once ``from_`` answers.
            caller_id: your ExoPhone, shown to both parties.
            **options: optional documented fields, see ``ConnectCallOptions``.

        Returns:
            The new call.

        Raises:
            ConfigurationError: before anything is sent.
            ExotelApiError: or a subclass, as ``ExotelRestClient.connect_call``.
        """
        return await self._execute(self._core.connect_call(from_, to, caller_id, options))

    async def get_call(self, call_sid: str) -> CallRecord:
        """Fetch a call's details; as ``ExotelRestClient.get_call``, awaited.

        Args:
            call_sid: the ``sid`` of a ``CallRecord``.

        Returns:
            The call as Exotel knows it now.

        Raises:
            ConfigurationError: before anything is sent.
            NotFoundError: 404, no such call.
            ExotelApiError: otherwise as ``ExotelRestClient.connect_call``.
        """
        return await self._execute(self._core.get_call(call_sid))

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncExotelRestClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
