"""Invariants of the local server under random call traffic (Hypothesis, virtual time).

Three phones (two over WebSocket, one over UDP) do random things to each other in any
order: call, ring, answer, reject, cancel, re-INVITE, hang up, lose their connection
and come back on a new one, let time pass. Whatever happens, the server never raises,
never sends over a closed flow, and once the traffic stops and every timer has run, it
holds no transaction and no response context: it forgets everything but the bindings.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore.errors import LocalProtocolError
from sipcore.server import Flow
from sipcore.user_agent import UserAgent
from tests.server.network import ANSWER, OFFER, Network, events, make_server

PHONES = (
    ("alice", Flow("ws", "127.0.0.1", 1000)),
    ("bob", Flow("ws", "127.0.0.1", 2000)),
    ("carol", Flow("udp", "127.0.0.1", 3000)),
)

_action = st.one_of(
    st.tuples(st.just("invite"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.sampled_from(["answer", "reject", "cancel", "bye", "ring"]), st.integers(0, 2)),
    st.tuples(st.sampled_from(["close", "reconnect", "reinvite"]), st.integers(0, 2)),
    st.tuples(st.just("wait"), st.sampled_from([0.1, 1.0, 5.0, 40.0])),
)


def _act(net: Network, phones: list[UserAgent], action: tuple[object, ...]) -> None:
    kind = action[0]
    if kind == "wait":
        assert isinstance(action[1], float)
        net.advance(net.now + action[1])
        return
    assert isinstance(action[1], int)
    ua = phones[action[1]]
    if kind == "reconnect":
        if ua not in net.phones.values():
            _, old = PHONES[action[1]]
            net.reconnect(ua, Flow(old.transport, old.host, old.port + len(net.phones) + 10))
        return
    if ua not in net.phones.values():
        return  # its connection is gone
    try:
        if kind == "invite":
            assert isinstance(action[2], int)
            ua.invite(PHONES[action[2]][0], net.now, body=OFFER)
        elif kind == "close":
            net.close(net.flow_of(ua))
            return
        else:
            for call_id in list(ua.calls):
                if kind == "answer":
                    ua.answer(call_id, net.now, ANSWER)
                elif kind == "reject":
                    ua.reject(call_id, net.now, 486)
                elif kind == "cancel":
                    ua.cancel(call_id, net.now)
                elif kind == "ring":
                    ua.ring(call_id, net.now)
                elif kind == "reinvite":
                    ua.reinvite(call_id, net.now, OFFER)
                else:
                    ua.bye(call_id, net.now)
    except LocalProtocolError:
        return  # not allowed in the call's state: the phone refused, nothing was sent
    net.pump()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_action, max_size=14))
def test_random_traffic_leaves_no_state_behind(actions: list[tuple[object, ...]]) -> None:
    net = Network(make_server(timer_c=20.0))
    phones = [
        net.phone(user, flow.port, flow.transport, max_calls=2, register_expires=3600)
        for user, flow in PHONES
    ]
    for phone in phones:
        phone.register(net.now)
    net.pump()
    closed: dict[Flow, int] = {}
    for action in actions:
        _act(net, phones, action)
        for _, flow in PHONES:
            if flow not in net.phones and flow not in closed:
                closed[flow] = len(net.sent_to(flow))
    for phone in phones:
        events(phone)
    # Hang up whatever is still up, then let every timer run (the refreshes come at 2880 s).
    for phone in phones:
        if phone in net.phones.values():
            for call_id in list(phone.calls):
                with contextlib.suppress(LocalProtocolError):
                    phone.hangup(call_id, net.now)
    net.advance(net.now + 200.0)
    assert net.server.transactions == 0
    for flow, count in closed.items():
        assert len(net.sent_to(flow)) == count, f"sent over closed {flow}"
    deadline = net.server.get_timer()
    assert deadline is None or deadline in {b.expires_at for b in net.server.bindings()}
