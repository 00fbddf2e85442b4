"""Digest authentication, server side (RFC 3261 §22, RFC 7616, RFC 8760).

``DigestGuard`` issues nonces, challenges requests (401 for a registrar, 407 for a
proxy) and checks the answers with ``sipcore.digest.verify_authorization``. Nonces come
from the injected id factory and age with the caller's clock: a right answer with an
old, unknown or replayed nonce is challenged again with ``stale=true`` (RFC 2617 §3.2.1),
so the client retries without asking its user; a wrong one is challenged afresh, which
a client (``DigestSession``) reads as "wrong password" and gives up on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sipcore.digest import (
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    authorization_header_name,
    challenge_header_name,
    format_challenge,
    parse_authorization,
    verify_authorization,
)
from sipcore.errors import RemoteProtocolError
from sipcore.ids import IdFactory
from sipcore.message import Request, Response
from sipcore.replies import make_response
from sipcore.uri import SipUri, parse_uri

__all__ = ["DigestGuard"]

logger = logging.getLogger(__name__)

_MAX_NONCES = 4096


@dataclass(slots=True)
class _Nonce:
    issued_at: float
    last_nc: int = 0


class DigestGuard:
    """Challenges requests and checks their credentials against a user table.

    Args:
        realm: our protection space.
        users: clear username -> password (never logged).
        algorithms: the algorithms to offer, one challenge each, in order.
        nonce_lifetime: seconds a nonce stays fresh.
        ids: where nonces and To tags come from.
    """

    __slots__ = ("_algorithms", "_ids", "_lifetime", "_nonces", "_realm", "_users")

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        algorithms: tuple[str, ...],
        nonce_lifetime: float,
        ids: IdFactory,
    ) -> None:
        self._realm = realm
        self._users = dict(users)
        self._algorithms = tuple(
            (DigestAlgorithm.from_token(a) or DigestAlgorithm.MD5).value for a in algorithms
        )
        self._lifetime = nonce_lifetime
        self._ids = ids
        self._nonces: dict[str, _Nonce] = {}

    def knows(self, user: str) -> bool:
        """Whether ``user`` is in the user table."""
        return user in self._users

    def check(self, request: Request, status: int, now: float) -> str | Response:
        """Authenticate ``request``: the username it proved, or the response to send.

        Args:
            request: the request (its Authorization or Proxy-Authorization is read).
            status: 401 (registrar, ``WWW-Authenticate``) or 407 (proxy).
            now: the current time (nonce ages).

        Returns:
            The authenticated username, or a 401/407 challenge (``stale=true`` when only
            the nonce was at fault), or 400 for unreadable credentials or a digest ``uri``
            that is not the Request-URI.
        """
        try:
            credentials = self._ours(request, status)
        except RemoteProtocolError as exc:
            return make_response(request, 400, f"Bad credentials: {exc}"[:80], to_tag=self._tag())
        if credentials is None:
            return self.challenge(request, status, now)
        password = self._users.get(credentials.username)
        if password is None or credentials.userhash:
            logger.info("digest: unknown user %r", credentials.username)
            return self.challenge(request, status, now)
        if not _same_uri(credentials.uri, request):
            # RFC 2617 §3.2.2.5: "The server MUST assure that the resource designated by
            # the "uri" directive is the same as the resource specified in the
            # Request-Line; if they are not, the server SHOULD return a 400 Bad Request".
            return make_response(request, 400, "Digest URI Mismatch", to_tag=self._tag())
        if not verify_authorization(credentials, password, request.method, request.body):
            logger.info("digest: wrong response from %r", credentials.username)
            return self.challenge(request, status, now)
        nonce = self._nonces.get(credentials.nonce)
        if nonce is None or now - nonce.issued_at >= self._lifetime:
            return self.challenge(request, status, now, stale=True)
        count = credentials.nonce_count
        if count is not None:
            if count <= nonce.last_nc:
                # A replayed nonce count (RFC 7616 §3.4.1 "nc"): the answer is right but
                # old; a fresh nonce lets an honest client go on.
                return self.challenge(request, status, now, stale=True)
            nonce.last_nc = count
        return credentials.username

    def challenge(
        self, request: Request, status: int, now: float, *, stale: bool = False
    ) -> Response:
        """A 401/407 answering ``request`` with a fresh nonce, one challenge per algorithm."""
        response = make_response(request, status, to_tag=self._tag())
        nonce = self._issue(now)
        header = challenge_header_name(status)
        for algorithm in self._algorithms:
            challenge = DigestChallenge(
                realm=self._realm, nonce=nonce, algorithm=algorithm, qop=("auth",), stale=stale
            )
            response.headers.add(header, format_challenge(challenge))
        return response

    def strip(self, request: Request, status: int) -> None:
        """Remove the credentials of our realm before forwarding (Kamailio's
        ``consume_credentials``; RFC 3261 §22.3: a proxy consumes its own)."""
        name = authorization_header_name(status)
        kept = [v for v in request.headers.get_all(name) if not self._is_ours(v)]
        request.headers.remove(name)
        for value in kept:
            request.headers.add(name, value)

    # -- internals -------------------------------------------------------------------

    def _ours(self, request: Request, status: int) -> DigestCredentials | None:
        for value in request.headers.get_all(authorization_header_name(status)):
            if not value.lstrip().lower().startswith("digest"):
                continue
            credentials = parse_authorization(value)
            if credentials.realm == self._realm:
                return credentials
        return None

    def _is_ours(self, value: str) -> bool:
        try:
            return parse_authorization(value).realm == self._realm
        except RemoteProtocolError:
            return False

    def _issue(self, now: float) -> str:
        nonces = self._nonces
        for key in [k for k, n in nonces.items() if now - n.issued_at >= self._lifetime]:
            del nonces[key]
        while len(nonces) >= _MAX_NONCES:
            del nonces[next(iter(nonces))]
        nonce = f"{self._ids.token()}{self._ids.cnonce()}"
        nonces[nonce] = _Nonce(now)
        return nonce

    def _tag(self) -> str:
        return self._ids.tag()


def _same_uri(digest_uri: str, request: Request) -> bool:
    uri = request.uri
    if digest_uri == str(uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except RemoteProtocolError:
        return False
    return isinstance(uri, SipUri) and uri.matches(parsed)
