"""The registrar (RFC 3261 §10.3) with RFC 5626 outbound flows.

``Registrar.register`` turns one authenticated REGISTER into a response and binding
changes, following §10.3's steps in order; authentication (step 3) is the caller's, so
that the 401 comes out of the same ``DigestGuard`` as the proxy's 407.
"""

from __future__ import annotations

from collections.abc import Callable

from sipcore.address import NameAddress
from sipcore.ids import IdFactory
from sipcore.message import Request, Response
from sipcore.replies import make_response
from sipcore.server.config import ServerConfig
from sipcore.server.events import ContactBound, ContactUnbound, ServerEvent, UnbindReason
from sipcore.server.flow import Flow
from sipcore.server.location import Binding, LocationService
from sipcore.uri import SipUri, unescape

__all__ = ["Registrar", "SUPPORTED"]

SUPPORTED = ("outbound", "path")
"""Option tags the registrar understands in a Require (RFC 5626, RFC 3327)."""


class Registrar:
    """Applies REGISTER requests to a ``LocationService``.

    Args:
        config: the server's settings (domain, expiry limits).
        location: the bindings.
        ids: To tags.
        emit: called with each ``ContactBound`` / ``ContactUnbound``.
    """

    __slots__ = ("_config", "_emit", "_ids", "_location")

    def __init__(
        self,
        config: ServerConfig,
        location: LocationService,
        ids: IdFactory,
        emit: Callable[[ServerEvent], None],
    ) -> None:
        self._config = config
        self._location = location
        self._ids = ids
        self._emit = emit

    def precheck(self, request: Request) -> Response | None:
        """Steps 1-2 of §10.3, before authentication: our domain, a known extension.

        Returns:
            The error response to send, or ``None`` to go on.
        """
        to = request.to.uri
        if not isinstance(to, SipUri) or to.host.lower() not in self._config.local_names:
            # §10.3 step 1 (we forward nowhere); the suite's Kamailio: 403 Not our domain.
            return self._reply(request, 403, "Not our domain")
        if not to.user:
            return self._reply(request, 404, "No user in To")
        unsupported = [t for t in request.tokens("require") if t.lower() not in SUPPORTED]
        if unsupported:
            # §10.3 step 2 / §8.2.2.3: 420 (Bad Extension) listing them in Unsupported.
            response = self._reply(request, 420)
            response.headers.add("Unsupported", ", ".join(unsupported))
            return response
        return None

    def register(self, request: Request, flow: Flow, username: str, now: float) -> Response:
        """Steps 4-8 of §10.3 for a REGISTER whose sender proved to be ``username``.

        Args:
            request: the REGISTER (``precheck`` passed).
            flow: where it came from: the flow its Contacts are bound to.
            username: the authenticated user.
            now: the current time (expiry deadlines).

        Returns:
            200 listing every current binding of the AoR with its remaining expiry, or
            403 (another user's AoR), 400 (bad Contact set, out-of-order CSeq) or
            423 with Min-Expires (§10.3 step 7); nothing changes unless it is 200.
        """
        to = request.to.uri
        assert isinstance(to, SipUri)
        user = unescape(to.user or "")
        if user != username:
            # §10.3 step 4: "the registrar [must] determine if the authenticated user is
            # authorized to modify registrations for this address-of-record".
            return self._reply(request, 403, "Forbidden")
        aor = f"sip:{user}@{self._config.domain}"
        header_expires = request.expires
        if request.contact_is_wildcard:
            # §10.3 step 6: "*" only with Expires 0 and no other Contact.
            if header_expires != 0:
                return self._reply(request, 400, "Wildcard Contact needs Expires 0")
            for binding in self._location.bindings(user):
                self._location.remove(binding)
                self._emit(
                    ContactUnbound(aor, binding.contact, binding.flow, UnbindReason.REQUESTED)
                )
            return self._ok(request, user, now, outbound=False)
        changes: list[tuple[NameAddress, int]] = []
        config = self._config
        default = header_expires
        if default is None:
            default = min(max(config.default_expires, config.min_expires), config.max_expires)
        for contact in request.contact:
            if not isinstance(contact.uri, SipUri):
                return self._reply(request, 400, "Contact must be a SIP URI")
            expires = contact.expires if contact.expires is not None else default
            if 0 < expires < self._config.min_expires:
                # §10.3 step 7: "the registrar MAY ... reject the registration with a
                # response of 423 (Interval Too Brief)" with Min-Expires.
                response = self._reply(request, 423)
                response.headers.add("Min-Expires", str(self._config.min_expires))
                return response
            expires = min(expires, self._config.max_expires)
            changes.append((contact.without_param("expires"), expires))
        call_id = request.call_id
        seq = request.cseq.seq
        for contact, _ in changes:
            old = self._location.find(user, contact)
            if old is not None and old.call_id == call_id and seq <= old.cseq:
                # §10.3 step 7: same Call-ID and a CSeq not above the binding's: "the
                # update MUST be aborted and the request fails".
                return self._reply(request, 400, "Out of Order CSeq")
        outbound = False
        for contact, expires in changes:
            old = self._location.find(user, contact)
            if expires == 0:
                if old is not None:
                    self._location.remove(old)
                    self._emit(ContactUnbound(aor, old.contact, old.flow, UnbindReason.REQUESTED))
                continue
            outbound = outbound or (contact.instance_id is not None and contact.reg_id is not None)
            binding = Binding(user, aor, contact, flow, now + expires, call_id, seq, now)
            self._location.put(binding)
            if old is not None and old.flow != flow:
                # RFC 5626 §6: the same instance and reg-id over a new flow replaces the
                # old binding, flow included.
                self._emit(ContactUnbound(aor, old.contact, old.flow, UnbindReason.REPLACED))
            self._emit(ContactBound(aor, contact, flow, expires, old is not None))
        return self._ok(request, user, now, outbound=outbound)

    def _ok(self, request: Request, user: str, now: float, *, outbound: bool) -> Response:
        # §10.3 step 8: "The response SHOULD include a Contact header field value
        # enumerating all current bindings", each with its expires parameter.
        response = self._reply(request, 200)
        h = response.headers
        for binding in self._location.bindings(user):
            remaining = binding.remaining(now)
            h.add("Contact", str(binding.contact.with_param("expires", str(remaining))))
        if outbound:
            # RFC 5626 §6: "the registrar MUST include the 'outbound' option-tag ... in a
            # Require header field in its response to that REGISTER request."
            h.add("Require", "outbound")
        h.add("Supported", ", ".join(SUPPORTED))
        return response

    def _reply(self, request: Request, status: int, reason: str | None = None) -> Response:
        return make_response(request, status, reason, to_tag=self._ids.tag())
