"""Registration (RFC 3261 §10.2) against an in-memory digest registrar, on virtual time."""

from __future__ import annotations

import pytest

from sipcore.config import UserAgentConfig
from sipcore.errors import LocalProtocolError
from sipcore.events import Registered, RegistrationFailed, RegistrationSent, Unregistered
from sipcore.ids import SequentialIds
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent
from tests.sipcore.b2b import Link, TestRegistrar, drop_matching, events, of_type


def make_ua(password: str = "secret", **options: object) -> UserAgent:
    config = UserAgentConfig.for_account("sip:alice@example.com", password, **options)
    return UserAgent(config, ids=SequentialIds("a"))


def test_register_answers_the_digest_challenge_then_is_registered() -> None:
    ua = make_ua()
    registrar = TestRegistrar({"alice": "secret"})
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.pump()
    got = events(ua)
    sent = of_type(got, RegistrationSent)
    assert [s.expires for s in sent] == [300, 300]
    assert "Authorization" not in {n for n, _ in sent[0].request.headers}
    assert (
        sent[1].request.headers.get(
            "Authorization",
        )
        is not None
    )
    assert sent[1].request.cseq.seq == sent[0].request.cseq.seq + 1
    assert sent[1].request.call_id == sent[0].request.call_id
    assert of_type(got, Registered)[0].expires == 300
    assert ua.registration_state is RegistrationState.REGISTERED
    # Refresh at 80 % of the granted 300 s (Exotel's behaviour), not before.
    assert ua.get_timer() == pytest.approx(240.0)


def test_register_contact_is_rfc5626_outbound_over_websocket() -> None:
    ua = make_ua()
    ua.register(now=0.0)
    request = of_type(events(ua), RegistrationSent)[0].request
    contact = request.contact[0]
    assert contact.uri.host.endswith(".invalid")  # type: ignore[union-attr]
    assert contact.uri.transport == "ws"  # type: ignore[union-attr]
    assert contact.uri.has_param("ob")  # type: ignore[union-attr]
    assert contact.reg_id == 1
    assert contact.instance_id is not None and contact.instance_id.startswith("urn:uuid:")
    assert contact.expires == 300
    via = request.via[0]
    assert via.transport == "WS"
    assert via.branch is not None and via.branch.startswith("z9hG4bK")


def test_refresh_happens_before_expiry_and_keeps_call_id() -> None:
    ua = make_ua()
    registrar = TestRegistrar({"alice": "secret"}, grant=60)
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.pump()
    assert of_type(events(ua), Registered)[0].expires == 60
    assert ua.get_timer() == pytest.approx(48.0)
    link.advance(47.9)
    assert of_type(events(ua), RegistrationSent) == []
    link.advance(48.0)
    got = events(ua)
    refresh = of_type(got, RegistrationSent)
    # The refresh reuses the nonce with the next nonce count: no new challenge needed.
    assert len(refresh) == 1
    assert "nc=00000002" in (refresh[0].request.headers.get("Authorization") or "")
    assert of_type(got, Registered)[0].expires == 60
    call_ids = {r.call_id for r in registrar.received}
    assert len(call_ids) == 1
    seqs = [r.cseq.seq for r in registrar.received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_wrong_password_fails_after_two_registers_and_never_loops() -> None:
    ua = make_ua(password="wrong")
    registrar = TestRegistrar({"alice": "secret"})
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.settle()
    got = events(ua)
    assert len(of_type(got, RegistrationSent)) == 2
    failed = of_type(got, RegistrationFailed)
    assert len(failed) == 1 and failed[0].status_code == 401 and failed[0].auth_rejected
    assert len(registrar.received) == 2
    assert ua.registration_state is RegistrationState.UNREGISTERED
    assert ua.get_timer() is None


def test_no_password_fails_at_the_first_challenge() -> None:
    config = UserAgentConfig.for_account("sip:alice@example.com")
    ua = UserAgent(config, ids=SequentialIds("a"))
    link = Link(ua, TestRegistrar({"alice": "secret"}))
    ua.register(now=0.0)
    link.settle()
    assert of_type(events(ua), RegistrationFailed)[0].auth_rejected


def test_423_min_expires_is_adopted_once() -> None:
    ua = make_ua()
    registrar = TestRegistrar({"alice": "secret"}, min_expires=600)
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.pump()
    got = events(ua)
    assert [s.expires for s in of_type(got, RegistrationSent)] == [300, 300, 600]
    assert of_type(got, Registered)[0].expires == 600


def test_unregister_sends_expires_zero() -> None:
    ua = make_ua()
    registrar = TestRegistrar({"alice": "secret"})
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.pump()
    events(ua)
    ua.unregister(now=1.0)
    link.pump()
    got = events(ua)
    sent = of_type(got, RegistrationSent)
    assert sent and all(s.expires == 0 for s in sent)
    assert sent[-1].request.contact[0].expires == 0
    assert len(of_type(got, Unregistered)) == 1
    assert ua.registration_state is RegistrationState.UNREGISTERED
    assert registrar.bindings == {}


def test_illegal_registration_actions_raise_and_change_nothing() -> None:
    ua = make_ua()
    with pytest.raises(LocalProtocolError):
        ua.unregister(now=0.0)
    assert ua.messages_to_send() == []
    ua.register(now=0.0)
    with pytest.raises(LocalProtocolError):
        ua.register(now=0.0)
    assert ua.registration_state is RegistrationState.REGISTERING
    assert len(ua.messages_to_send()) == 1


def test_register_times_out_with_timer_f_on_a_dead_udp_link() -> None:
    ua = make_ua(transport="udp")
    link = Link(ua, TestRegistrar({"alice": "secret"}), drop_ab=drop_matching("REGISTER"))
    ua.register(now=0.0)
    link.settle()
    failed = of_type(events(ua), RegistrationFailed)
    assert failed[0].status_code == 408
    assert link.now == pytest.approx(32.0)  # Timer F = 64*T1
    # Timer E: retransmissions at 0.5, 1.5, 3.5, 7.5, then every T2=4 s until 32 s.
    assert len(link.sent_ab) == 1 + 4 + 6


def test_connection_lost_reports_unregistered_and_connection_made_reregisters() -> None:
    ua = make_ua()
    registrar = TestRegistrar({"alice": "secret"})
    link = Link(ua, registrar)
    ua.register(now=0.0)
    link.pump()
    events(ua)
    ua.connection_lost(now=5.0)
    assert of_type(events(ua), Unregistered)
    assert ua.get_timer() is None
    ua.connection_made(now=6.0)
    link.now = 6.0
    link.pump()
    assert of_type(events(ua), Registered)
