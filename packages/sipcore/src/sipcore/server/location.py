"""The location service (RFC 3261 §10.3): bindings of Contacts to AoRs, and their flows.

Each binding remembers the flow its REGISTER arrived on (RFC 5626 §5.3, what Kamailio
does with ``fix_nated_register``): requests for the AoR go back over that flow whatever
the Contact's host says, which over WebSocket is a ``.invalid`` name (RFC 7118 §5.2).
Bindings expire at an absolute deadline in the caller's clock; nothing here reads one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.address import NameAddress
from sipcore.server.flow import Flow
from sipcore.uri import Uri

__all__ = ["Binding", "LocationService"]


@dataclass(frozen=True, slots=True)
class Binding:
    """One Contact bound to one AoR over one flow."""

    user: str
    """The AoR's user part (the key of the location service: one domain only)."""
    aor: str
    """The address-of-record, ``sip:user@domain``."""
    contact: NameAddress
    """The Contact as registered, without its ``expires`` parameter."""
    flow: Flow
    """The flow the REGISTER came over: where requests for this Contact go."""
    expires_at: float
    """When the binding lapses (absolute, caller's clock)."""
    call_id: str
    cseq: int
    updated_at: float
    """When the last REGISTER refreshed it (the newest flow wins for one instance)."""

    @property
    def instance_id(self) -> str | None:
        """RFC 5626 ``+sip.instance``, if registered with one."""
        return self.contact.instance_id

    @property
    def reg_id(self) -> int | None:
        """RFC 5626 ``reg-id``, if registered with one."""
        return self.contact.reg_id

    def remaining(self, now: float) -> int:
        """Whole seconds left (rounded, at least 1 while it lasts), 0 once lapsed."""
        left = self.expires_at - now
        return 0 if left <= 0 else max(1, round(left))

    def same_contact(self, contact: NameAddress) -> bool:
        """Whether ``contact`` names this binding.

        RFC 5626 §6: with ``+sip.instance`` and ``reg-id`` the binding is that pair;
        otherwise RFC 3261 §10.3 step 7 compares Contact URIs (§19.1.4).
        """
        if contact.instance_id is not None and contact.reg_id is not None:
            return (contact.instance_id, contact.reg_id) == (self.instance_id, self.reg_id)
        if self.instance_id is not None and self.reg_id is not None:
            return False
        return _uri_matches(self.contact.uri, contact.uri)


def _uri_matches(a: Uri, b: Uri) -> bool:
    matches = getattr(a, "matches", None)
    return bool(matches(b)) if matches is not None else str(a) == str(b)


class LocationService:
    """Bindings by user, in registration order."""

    __slots__ = ("_bindings",)

    def __init__(self) -> None:
        self._bindings: dict[str, list[Binding]] = {}

    def bindings(self, user: str | None = None) -> list[Binding]:
        """The bindings of ``user`` (every binding if ``None``), oldest first."""
        if user is not None:
            return list(self._bindings.get(user, ()))
        return [b for found in self._bindings.values() for b in found]

    def find(self, user: str, contact: NameAddress) -> Binding | None:
        """The binding of ``user`` that ``contact`` names, if any."""
        return next((b for b in self._bindings.get(user, ()) if b.same_contact(contact)), None)

    def by_target(self, uri: Uri) -> Binding | None:
        """The newest binding whose Contact URI is ``uri`` (an in-dialog remote target)."""
        found = [b for b in self.bindings() if _uri_matches(b.contact.uri, uri)]
        return max(found, key=lambda b: b.updated_at) if found else None

    def put(self, binding: Binding) -> Binding | None:
        """Add ``binding``, replacing the one with the same Contact; returns that one."""
        found = self._bindings.setdefault(binding.user, [])
        for index, old in enumerate(found):
            if old.same_contact(binding.contact):
                found[index] = binding
                return old
        found.append(binding)
        return None

    def remove(self, binding: Binding) -> None:
        """Drop ``binding`` (no error if it is gone already)."""
        found = self._bindings.get(binding.user)
        if found is None:
            return
        found[:] = [b for b in found if b is not binding]
        if not found:
            del self._bindings[binding.user]

    def remove_flow(self, flow: Flow) -> list[Binding]:
        """Drop every binding over ``flow`` (RFC 5626 §5.3: the flow failed); returns them."""
        gone = [b for b in self.bindings() if b.flow == flow]
        for binding in gone:
            self.remove(binding)
        return gone

    def expire(self, now: float) -> list[Binding]:
        """Drop every binding lapsed at ``now``; returns them."""
        gone = [b for b in self.bindings() if b.expires_at <= now]
        for binding in gone:
            self.remove(binding)
        return gone

    def next_expiry(self) -> float | None:
        """The earliest deadline of any binding, or ``None``."""
        deadlines = [b.expires_at for b in self.bindings()]
        return min(deadlines) if deadlines else None

    def targets(self, user: str) -> list[Binding]:
        """Where a request for ``user`` goes: every binding, but one flow per instance.

        RFC 5626 §5.3: a proxy forwarding to an instance registered over several flows
        (several reg-ids) uses only one of them; we take the most recently refreshed.
        """
        chosen: dict[object, Binding] = {}
        for binding in self._bindings.get(user, ()):
            key: object = binding.instance_id or id(binding)
            current = chosen.get(key)
            if current is None or binding.updated_at >= current.updated_at:
                chosen[key] = binding
        return list(chosen.values())
