"""Client registration (RFC 3261 §10.2) with RFC 5626 outbound Contacts.

``Registration`` builds REGISTER requests and digests their final responses into a
decision for the ``UserAgent`` (send this next request, report this event). It keeps
one Call-ID for the whole life of the registration and increments CSeq
(§10.2.4: "A UA SHOULD use the same Call-ID for all registrations during a single boot
cycle"), and schedules the refresh before the granted expiry runs out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sipcore.address import NameAddress
from sipcore.errors import LocalProtocolError
from sipcore.events import Event, Registered, RegistrationFailed, Unregistered
from sipcore.headers import Headers
from sipcore.message import Request, Response
from sipcore.uri import SipUri

__all__ = ["RegistrationState", "Registration", "RegistrationStep"]


class RegistrationState(enum.Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    """A REGISTER is in flight and no binding is known to exist."""
    REGISTERED = "registered"
    """The binding exists (a refresh may be in flight)."""
    UNREGISTERING = "unregistering"


class _Ask(enum.Enum):
    REGISTER = "register"
    UNREGISTER = "unregister"


S = RegistrationState

# What the TU may ask in each state (h11-style "Rule 1" table): asking anything else
# raises LocalProtocolError and changes nothing.
TU_TRANSITIONS: Mapping[tuple[RegistrationState, _Ask], RegistrationState] = {
    (S.UNREGISTERED, _Ask.REGISTER): S.REGISTERING,
    (S.REGISTERED, _Ask.REGISTER): S.REGISTERED,  # refresh now
    (S.REGISTERING, _Ask.UNREGISTER): S.UNREGISTERING,
    (S.REGISTERED, _Ask.UNREGISTER): S.UNREGISTERING,
}


@dataclass(frozen=True, slots=True)
class RegistrationStep:
    """What the UA must do after a final response: send ``request`` and/or report ``event``."""

    request: Request | None = None
    event: Event | None = None


class Registration:
    """One binding of our Contact to our AoR at one registrar.

    Args:
        aor: our address-of-record (To and From).
        registrar: the REGISTER Request-URI.
        contact: our Contact (with ``+sip.instance``/``reg-id`` for outbound).
        call_id: the Call-ID used for every REGISTER of this registration.
        from_tag: the From tag.
        expires: the expiry to ask for.
        refresh_fraction: refresh after this fraction of the granted expiry.
        extra_headers: added to every REGISTER (Route, Allow, Supported, User-Agent...).

    ``aor``, ``registrar``, ``contact``, ``call_id``, ``from_tag`` and ``extra_headers``
    are fixed for the registration's life: the REGISTER's unchanging headers are written
    from them once. A different binding is a new ``Registration``.
    """

    # Slotted: one per phone, and a fleet holds thousands (no __dict__ to scan or keep).
    __slots__ = (
        "_contact_text",
        "_head",
        "_min_expires_tried",
        "_tail",
        "aor",
        "asked",
        "call_id",
        "contact",
        "cseq",
        "expires",
        "extra_headers",
        "from_tag",
        "granted",
        "refresh_at",
        "refresh_fraction",
        "registrar",
        "state",
    )

    def __init__(
        self,
        *,
        aor: NameAddress,
        registrar: SipUri,
        contact: NameAddress,
        call_id: str,
        from_tag: str,
        expires: int,
        refresh_fraction: float,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.aor = aor
        self.registrar = registrar
        self.contact = contact
        self.call_id = call_id
        self.from_tag = from_tag
        self.expires = expires
        self.refresh_fraction = refresh_fraction
        self.extra_headers = extra_headers
        self.state = RegistrationState.UNREGISTERED
        self.cseq = 0
        self.asked = 0
        """The expiry asked for by the last REGISTER built (0: un-REGISTER)."""
        self.granted: int | None = None
        self.refresh_at: float | None = None
        self._min_expires_tried: tuple[int, ...] = ()  # (a set is 216 bytes per phone)
        # Every REGISTER of this registration repeats the same To, From, Call-ID, Route,
        # Allow... (§10.2.4 keeps Call-ID and tags): they are written and checked once
        # here, and build() copies them, rather than formatting addresses and checking
        # each value again for every REGISTER (a fleet sends thousands a second).
        self._head = tuple(
            Headers(
                (
                    ("Max-Forwards", "70"),
                    ("To", str(aor)),
                    ("From", str(aor.with_tag(from_tag))),
                    ("Call-ID", call_id),
                )
            )._entries
        )
        self._tail = tuple(Headers((*extra_headers, ("Content-Length", "0")))._entries)
        self._contact_text = (-1, "")  # (expires, the Contact asking for it), the last built

    # -- TU actions ------------------------------------------------------------------

    def register(self, expires: int | None = None) -> Request:
        """Start (or refresh now) the registration; returns the REGISTER to send.

        Raises:
            LocalProtocolError: a registration or un-registration is already in flight.
        """
        self._transition(_Ask.REGISTER)
        if expires is not None:
            self.expires = expires
        self.refresh_at = None
        return self.build(self.expires)

    def unregister(self) -> Request:
        """Remove our binding; returns the REGISTER with ``expires=0`` to send.

        Raises:
            LocalProtocolError: not registered or registering.
        """
        self._transition(_Ask.UNREGISTER)
        self.refresh_at = None
        return self.build(0)

    def _transition(self, ask: _Ask) -> None:
        new = TU_TRANSITIONS.get((self.state, ask))
        if new is None:
            raise LocalProtocolError(f"cannot {ask.value} while {self.state.value}")
        self.state = new

    def build(self, expires: int) -> Request:
        """A REGISTER for ``expires`` seconds with the next CSeq (no Via: the UA adds it)."""
        self.cseq += 1
        self.asked = expires
        built_for, contact = self._contact_text
        if built_for != expires:
            contact = str(self.contact.with_param("expires", str(expires)))
            self._contact_text = (expires, contact)
        # Only our own integers and the Contact (checked when built) vary: no CR/LF to check.
        headers = Headers._parsed(
            [
                *self._head,
                ("CSeq", "cseq", f"{self.cseq} REGISTER"),
                ("Contact", "contact", contact),
                ("Expires", "expires", str(expires)),
                *self._tail,
            ]
        )
        return Request("REGISTER", self.registrar, headers)

    # -- responses -------------------------------------------------------------------

    def on_final(self, response: Response, now: float) -> RegistrationStep:
        """Digest the final response to the last REGISTER built (auth challenges are the
        UA's job).

        Returns:
            A retry to send (423 with a usable Min-Expires) and/or an event.
        """
        asked = self.asked
        code = response.status_code
        if self.state is RegistrationState.UNREGISTERING:
            self._clear()
            if 200 <= code < 300:
                return RegistrationStep(event=Unregistered(response))
            return RegistrationStep(
                event=RegistrationFailed(code, response.reason, response, code in (401, 403, 407))
            )
        if 200 <= code < 300:
            granted = self._granted_expiry(response, asked)
            if granted == 0:
                self._clear()
                return RegistrationStep(event=Unregistered(response))
            self.state = RegistrationState.REGISTERED
            self.granted = granted
            self.refresh_at = now + granted * self.refresh_fraction
            self._min_expires_tried = ()
            return RegistrationStep(event=Registered(granted, response))
        if code == 423:
            # §10.2.8: "the UA MAY retry the registration after making the expiration
            # interval of all contact addresses ... equal to or greater than the
            # expiration interval within the Min-Expires header field".
            minimum = response.typed("min-expires")
            if (
                isinstance(minimum, int)
                and minimum > asked
                and minimum not in self._min_expires_tried
            ):
                self._min_expires_tried += (minimum,)
                self.expires = minimum
                return RegistrationStep(request=self.build(minimum))
        self._clear()
        return RegistrationStep(
            event=RegistrationFailed(code, response.reason, response, code in (401, 403, 407))
        )

    def on_failure(self, status_code: int, reason: str) -> Event:
        """The REGISTER timed out (408) or its transport failed (503)."""
        self._clear()
        return RegistrationFailed(status_code, reason, None, False)

    def flow_lost(self) -> Event | None:
        """The connection carrying our binding died (RFC 5626 §4.4): the binding is gone."""
        was = self.state
        self._clear()
        if was is RegistrationState.UNREGISTERED:
            return None
        return Unregistered(None)

    def refresh_due(self, now: float) -> bool:
        """Whether the refresh deadline has come."""
        return (
            self.state is RegistrationState.REGISTERED
            and self.refresh_at is not None
            and now >= self.refresh_at
        )

    def _clear(self) -> None:
        self.state = RegistrationState.UNREGISTERED
        self.granted = None
        self.refresh_at = None

    def _granted_expiry(self, response: Response, asked: int) -> int:
        # §10.2.4: "The response ... contains a list of Contact header field values
        # enumerating all current bindings"; find ours (by +sip.instance, else by URI)
        # and read its expires, else the Expires header, else what we asked.
        ours = self.contact
        for contact in response.contact:
            same_instance = ours.instance_id is not None and contact.instance_id == ours.instance_id
            same_uri = (
                isinstance(contact.uri, SipUri)
                and isinstance(ours.uri, SipUri)
                and contact.uri.user == ours.uri.user
                and contact.uri.host.lower() == ours.uri.host.lower()
            )
            if (same_instance or same_uri) and contact.expires is not None:
                return contact.expires
        header = response.expires
        return header if header is not None else asked
