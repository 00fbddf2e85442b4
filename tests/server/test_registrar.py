"""The local server's registrar (RFC 3261 §10.3, RFC 5626), sans-IO on virtual time."""

from __future__ import annotations

import pytest

from sipcore.digest import DigestSession, parse_challenges
from sipcore.events import Registered, RegistrationFailed, RegistrationSent, Unregistered
from sipcore.registration import RegistrationState
from sipcore.server import ContactBound, ContactUnbound, Flow, UnbindReason
from tests.server.network import (
    DOMAIN,
    USERS,
    Builder,
    Network,
    RawPeer,
    events,
    make_server,
    of_type,
)


def test_register_is_challenged_then_bound_to_its_flow() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    alice.register(net.now)
    net.pump()
    flow = Flow("ws", "127.0.0.1", 1000)
    first, second = net.responses_to(flow)
    assert first.status_code == 401
    (challenge,) = parse_challenges(first.headers.get_all("WWW-Authenticate"))
    assert (challenge.realm, challenge.algorithm, challenge.qop, challenge.stale) == (
        DOMAIN,
        "MD5",
        ("auth",),
        False,
    )
    assert second.status_code == 200
    assert second.headers.get("Require") == "outbound"  # RFC 5626 §6
    (contact,) = second.contact
    assert contact.expires == 300
    assert contact.instance_id is not None
    assert of_type(events(alice), Registered)[0].expires == 300
    (binding,) = net.server.bindings("alice")
    assert binding.flow == flow
    assert binding.aor == f"sip:alice@{DOMAIN}"
    assert binding.expires_at == 300.0
    assert binding.contact.uri.host.endswith(".invalid")  # type: ignore[union-attr]
    (bound,) = net.take_server_events(ContactBound)
    assert (bound.flow, bound.expires, bound.refreshed) == (flow, 300, False)


def test_wrong_password_is_refused_and_not_retried() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000, password="wrong")
    alice.register(net.now)
    net.pump()
    got = events(alice)
    assert len(of_type(got, RegistrationSent)) == 2  # first try, one answer: no loop
    (failed,) = of_type(got, RegistrationFailed)
    assert failed.status_code == 401
    assert failed.auth_rejected
    assert net.server.bindings() == []


def test_unknown_user_is_challenged_like_a_wrong_password() -> None:
    net = Network(make_server())
    mallory = net.phone("mallory", 1000, password="anything")
    mallory.register(net.now)
    net.pump()
    assert of_type(events(mallory), RegistrationFailed)[0].auth_rejected
    assert net.server.bindings() == []


def test_registering_someone_elses_aor_is_forbidden() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1000), user="alice")
    response = peer.send_authenticated(
        lambda n: peer.request(
            "REGISTER",
            f"sip:{DOMAIN}",
            to=f"<sip:bob@{DOMAIN}>",
            cseq=n,
            headers=(("Contact", "<sip:x@h.invalid;transport=ws>"),),
        ),
        USERS["alice"],
    )
    assert response.status_code == 403
    assert net.server.bindings() == []


def test_binding_expires_at_its_deadline_when_not_refreshed() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000, register_expires=60)
    alice.register(net.now)
    net.pump()
    assert net.server.get_timer() == 60.0
    # The phone goes silent (no refresh reaches the server) but the flow stays open.
    flow = net.flow_of(alice)
    del net.phones[flow]
    net.advance(59.999)
    assert net.server.bindings("alice") != []
    net.advance(60.0)
    assert net.server.bindings("alice") == []
    (gone,) = net.take_server_events(ContactUnbound)
    assert gone.reason is UnbindReason.EXPIRED
    assert net.server.get_timer() is None


def test_refresh_keeps_the_binding_and_pushes_its_deadline() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000, register_expires=60)
    alice.register(net.now)
    net.advance(48.0)  # the phone refreshes at 80 %
    (binding,) = net.server.bindings("alice")
    assert binding.expires_at == 108.0
    bound = net.take_server_events(ContactBound)
    assert [b.refreshed for b in bound] == [False, True]


def test_too_brief_expiry_gets_423_and_the_phone_retries_with_min_expires() -> None:
    net = Network(make_server(min_expires=30))
    alice = net.phone("alice", 1000, register_expires=5)
    alice.register(net.now)
    net.pump()
    codes = [r.status_code for r in net.responses_to(net.flow_of(alice))]
    assert codes == [401, 423, 200]
    assert net.responses_to(net.flow_of(alice))[1].headers.get("Min-Expires") == "30"
    assert of_type(events(alice), Registered)[0].expires == 30


def test_expiry_above_the_maximum_is_cut_down() -> None:
    net = Network(make_server(max_expires=120))
    alice = net.phone("alice", 1000, register_expires=3000)
    alice.register(net.now)
    net.pump()
    assert of_type(events(alice), Registered)[0].expires == 120


def test_unregister_removes_the_binding() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    alice.register(net.now)
    net.pump()
    alice.unregister(net.now)
    net.pump()
    assert of_type(events(alice), Unregistered)
    assert net.server.bindings() == []
    (gone,) = net.take_server_events(ContactUnbound)
    assert gone.reason is UnbindReason.REQUESTED


def test_wildcard_contact_with_expires_zero_removes_every_binding() -> None:
    net = Network(make_server())
    for port in (1000, 1001):
        phone = net.phone("alice", port, instance_id=f"urn:uuid:{port}")
        phone.register(net.now)
    net.pump()
    assert len(net.server.bindings("alice")) == 2
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1002), user="alice")

    def wildcard(expires: str) -> Builder:
        return lambda n: peer.request(
            "REGISTER",
            f"sip:{DOMAIN}",
            call_id=f"wild{expires}",
            cseq=n,
            headers=(("Contact", "*"), ("Expires", expires)),
        )

    refused = peer.send_authenticated(wildcard("60"), USERS["alice"])
    assert refused.status_code == 400  # §10.3 step 6: "*" needs Expires 0
    assert len(net.server.bindings("alice")) == 2
    ok = peer.send_authenticated(wildcard("0"), USERS["alice"])
    assert ok.status_code == 200
    assert ok.contact == []
    assert net.server.bindings("alice") == []


def test_out_of_order_cseq_for_the_same_call_id_fails() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("udp", "127.0.0.1", 5999), user="bob")
    contact = (("Contact", "<sip:bob@127.0.0.1:5999>"),)

    def register(cseq: int) -> Builder:
        return lambda n: peer.request(
            "REGISTER", f"sip:{DOMAIN}", call_id="reg", cseq=cseq + n, headers=contact
        )

    assert peer.send_authenticated(register(10), USERS["bob"]).status_code == 200
    assert peer.send_authenticated(register(0), USERS["bob"]).status_code == 400
    (binding,) = net.server.bindings("bob")
    assert binding.cseq == 12


def test_a_binding_registered_without_outbound_is_keyed_by_contact_uri() -> None:
    net = Network(make_server())
    bob = net.phone("bob", 5062, transport="udp", reg_id=None)
    bob.register(net.now)
    net.pump()
    (binding,) = net.server.bindings("bob")
    assert str(binding.contact.uri).startswith("sip:")
    assert binding.instance_id is None
    assert binding.flow == Flow("udp", "127.0.0.1", 5062)
    assert net.responses_to(binding.flow)[-1].headers.get("Require") is None


def test_closing_the_flow_drops_its_bindings() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    bob = net.phone("bob", 2000)
    alice.register(net.now)
    bob.register(net.now)
    net.pump()
    net.close(net.flow_of(bob))
    assert [b.user for b in net.server.bindings()] == ["alice"]
    (gone,) = net.take_server_events(ContactUnbound)
    assert (gone.reason, gone.flow) == (UnbindReason.FLOW_CLOSED, Flow("ws", "127.0.0.1", 2000))
    assert bob.registration_state is RegistrationState.UNREGISTERED


def test_reconnecting_phone_rebinds_on_its_new_flow() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    alice.register(net.now)
    net.pump()
    net.close(Flow("ws", "127.0.0.1", 1000))
    net.reconnect(alice, Flow("ws", "127.0.0.1", 1001))
    (binding,) = net.server.bindings("alice")
    assert binding.flow == Flow("ws", "127.0.0.1", 1001)
    assert alice.registration_state is RegistrationState.REGISTERED


def test_same_instance_and_reg_id_on_a_new_flow_replaces_the_binding() -> None:
    # RFC 5626 §6, e.g. a phone that reconnected before the old connection was noticed.
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    alice.register(net.now)
    net.pump()
    old = net.flow_of(alice)
    del net.phones[old]
    net.attach(alice, Flow("ws", "127.0.0.1", 1001))
    alice.register(net.now)
    net.pump()
    (binding,) = net.server.bindings("alice")
    assert binding.flow == Flow("ws", "127.0.0.1", 1001)
    (replaced,) = net.take_server_events(ContactUnbound)
    assert (replaced.reason, replaced.flow) == (UnbindReason.REPLACED, old)


def test_stale_nonce_is_challenged_with_stale_true_and_the_phone_goes_on() -> None:
    net = Network(make_server(nonce_lifetime=100.0))
    alice = net.phone("alice", 1000, register_expires=300)
    alice.register(net.now)
    net.advance(240.0)  # the refresh reuses a nonce that is 240 s old
    flow = net.flow_of(alice)
    codes = [r.status_code for r in net.responses_to(flow)]
    assert codes == [401, 200, 401, 200]
    stale = net.responses_to(flow)[2]
    (challenge,) = parse_challenges(stale.headers.get_all("WWW-Authenticate"))
    assert challenge.stale
    assert alice.registration_state is RegistrationState.REGISTERED
    assert net.server.bindings("alice")[0].expires_at == 540.0


def test_replayed_nonce_count_is_stale() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1000), user="alice")
    request = peer.request("REGISTER", f"sip:{DOMAIN}", cseq=1)
    challenge = peer.send(request)[-1]
    session = DigestSession("alice", USERS["alice"])
    session.respond(parse_challenges(challenge.headers.get_all("WWW-Authenticate")))
    auth = session.authorize(method="REGISTER", uri=f"sip:{DOMAIN}", cnonce="c")
    answers = []
    for cseq in (2, 3):
        again = peer.request("REGISTER", f"sip:{DOMAIN}", cseq=cseq)
        again.headers.set("Authorization", auth.header_value)  # the same nc twice
        answers.append(peer.send(again)[-1])
    assert [a.status_code for a in answers] == [200, 401]
    (stale,) = parse_challenges(answers[1].headers.get_all("WWW-Authenticate"))
    assert stale.stale


def test_sha256_challenge_when_configured() -> None:
    net = Network(make_server(algorithms=("SHA-256", "MD5")))
    alice = net.phone("alice", 1000)
    alice.register(net.now)
    net.pump()
    challenge = net.responses_to(net.flow_of(alice))[0]
    algorithms = [
        c.algorithm for c in parse_challenges(challenge.headers.get_all("WWW-Authenticate"))
    ]
    assert algorithms == ["SHA-256", "MD5"]
    assert alice.registration_state is RegistrationState.REGISTERED


@pytest.mark.parametrize(
    ("to", "require", "status"),
    [
        ("<sip:alice@elsewhere.test>", None, 403),
        (f"<sip:alice@{DOMAIN}>", "gruu, outbound", 420),
    ],
)
def test_register_prechecks(to: str, require: str | None, status: int) -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1000), user="alice")
    headers = (("Require", require),) if require else ()
    response = peer.send(peer.request("REGISTER", f"sip:{DOMAIN}", to=to, headers=headers))[-1]
    assert response.status_code == status
    if status == 420:
        assert response.headers.get("Unsupported") == "gruu"
