"""DTMF: the RFC 4733 packet rules, SIP INFO bodies, the mode decision, and real key
presses carried between two MediaSessions in their audio streams."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCSessionDescription

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.sdp import SessionDescription
from sipmedia import MediaConfig, MediaSession, Tone, dominant_frequency, tone_ratio
from sipmedia.dtmf import (
    DTMF_DIGITS,
    DtmfError,
    DtmfMode,
    DtmfReceived,
    EventPacket,
    TelephoneEvent,
    TelephoneEventReceiver,
    TelephoneEventSender,
    add_telephone_events,
    digit_for_event,
    dtmf_mode,
    dtmf_relay_body,
    event_codes,
    parse_dtmf_info,
    telephone_event_for,
)
from sipmedia.rtp import rewrite_rtp

# ------------------------------------------------------------------------- digits


def test_digits_map_to_rfc4733_event_codes() -> None:
    assert event_codes("0123456789*#ABCD") == list(range(16))
    assert event_codes("abcd") == [12, 13, 14, 15]
    assert [digit_for_event(code) for code in range(16)] == list(DTMF_DIGITS)
    assert digit_for_event(16) is None  # flash is an event, not a key


@pytest.mark.parametrize("digits", ["", "12x", "E", "1 2", "½", "**0,"])
def test_bad_digits_are_refused_as_local_errors_and_value_errors(digits: str) -> None:
    with pytest.raises(DtmfError) as caught:
        event_codes(digits)
    assert isinstance(caught.value, LocalProtocolError)
    assert isinstance(caught.value, ValueError)


def test_payload_round_trips_and_sets_the_bits_rfc4733_defines() -> None:
    event = TelephoneEvent(event=11, end=True, volume=10, duration=1280)
    data = bytes(event)
    assert data == bytes((11, 0x80 | 10)) + (1280).to_bytes(2, "big")
    assert TelephoneEvent.parse(data) == event
    # §2.3.3: the receiver ignores R; redundant bytes after the first event are ignored.
    assert TelephoneEvent.parse(bytes((5, 0x40 | 7, 0, 160)) + b"\0\0\0\0") == TelephoneEvent(
        5, False, 7, 160
    )
    assert TelephoneEvent.parse(b"\x05\x00") is None


# ------------------------------------------------------------------------- sender


def _run_sender(
    sender: TelephoneEventSender, start: int, slots: int, step: int
) -> list[tuple[int, EventPacket | None]]:
    out: list[tuple[int, EventPacket | None]] = []
    for k in range(slots):
        ts = (start + k * step) % (1 << 32)
        out.append((ts, sender.on_audio_packet(ts)))
    return out


def test_sender_follows_rfc4733_for_one_digit() -> None:
    sender = TelephoneEventSender(payload_type=101, clock_rate=8000)
    ticket = sender.enqueue(event_codes("5"), duration_ms=100, gap_ms=60, volume=12)
    slots = _run_sender(sender, start=1000, slots=12, step=160)
    packets = [p for _, p in slots if p is not None]
    # 100 ms at 20 ms a packet: 5 packets, the last one ending, sent three times.
    assert len(packets) == 7
    assert [p is not None for _, p in slots[:7]] == [True] * 7  # they replace the audio
    assert {p.timestamp for p in packets} == {1000}  # §2.2.1: the event's start, constant
    assert [p.marker for p in packets] == [True] + [False] * 6  # §2.2.2
    assert [p.event.duration for p in packets] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in packets] == [False] * 4 + [True] * 3  # §2.5.1.4
    assert {(p.event.event, p.event.volume, p.payload_type) for p in packets} == {(5, 12, 101)}
    assert all(p.payload == bytes(p.event) for p in packets)
    # Then audio resumes.
    assert [p for _, p in slots[7:]] == [None] * 5
    assert sender.completed == ticket == 1 and not sender.busy


def test_sender_waits_out_the_gap_and_handles_timestamp_wrap() -> None:
    sender = TelephoneEventSender(payload_type=110, clock_rate=48000)
    sender.enqueue(event_codes("19"), duration_ms=60, gap_ms=100)
    start = (1 << 32) - 2 * 960  # wraps during the first tone
    slots = _run_sender(sender, start=start, slots=20, step=960)
    kinds = ["E" if p is None else ("end" if p.event.end else "on") for _, p in slots]
    # 60 ms tone (3 packets, 3 end) | audio until start + 60 + 100 ms | second tone.
    assert kinds[:5] == ["on", "on", "end", "end", "end"]
    first = slots[0][1]
    assert first is not None
    second_start = next(p for _, p in slots[5:] if p is not None)
    assert second_start.marker and second_start.event.event == 9
    assert (second_start.timestamp - first.timestamp) % (1 << 32) == 960 * 8  # 60 + 100 ms
    assert kinds[5:8] == ["E", "E", "E"]
    assert sender.completed == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration_ms", 39), ("duration_ms", 1001), ("gap_ms", 29), ("volume", 64)],
)
def test_sender_refuses_out_of_range_tones_before_queueing(field: str, value: int) -> None:
    sender = TelephoneEventSender(payload_type=101, clock_rate=8000)
    with pytest.raises(DtmfError):
        sender.enqueue([1], **{field: value})
    assert not sender.busy and sender.queued == 0


# ------------------------------------------------------------------------- receiver


def _packets(event: int, durations: list[int]) -> list[bytes]:
    out = [bytes(TelephoneEvent(event, False, 10, d)) for d in durations[:-1]]
    out += [bytes(TelephoneEvent(event, True, 10, durations[-1]))] * 3
    return out


def test_receiver_reports_one_digit_per_event_despite_repeated_end_packets() -> None:
    receiver = TelephoneEventReceiver()
    got: list[DtmfReceived] = []
    for ts, event in ((100, 1), (2000, 11), (4000, 1)):
        for payload in _packets(event, [160, 320, 480, 640, 800]):
            got += receiver.on_event_packet(7, ts, payload, 8000)
        # a late duplicate of an update is not a new key press either
        got += receiver.on_event_packet(7, ts, bytes(TelephoneEvent(event, False, 10, 320)), 8000)
    assert [(e.digit, e.duration_ms, e.ended, e.mode) for e in got] == [
        ("1", 100, True, DtmfMode.RFC4733),
        ("#", 100, True, DtmfMode.RFC4733),
        ("1", 100, True, DtmfMode.RFC4733),
    ]


def test_receiver_ends_an_event_whose_end_packets_were_all_lost() -> None:
    receiver = TelephoneEventReceiver()
    for duration in (960, 1920, 2880):
        update = bytes(TelephoneEvent(4, False, 10, duration))
        assert receiver.on_event_packet(1, 48_000, update, 48_000) == []
    # audio right after the last update may still be concurrent with the tone...
    assert receiver.on_audio_packet(1, 48_000 + 2880 + 960) == []
    # ...audio well after it ends the event
    (got,) = receiver.on_audio_packet(1, 48_000 + 2880 + 4 * 960)
    assert (got.digit, got.duration_ms, got.ended) == ("4", 60, False)
    # and a new event also closes an open one
    receiver.on_event_packet(1, 60_000, bytes(TelephoneEvent(7, False, 10, 960)), 48_000)
    (closed,) = receiver.on_event_packet(
        1, 70_000, bytes(TelephoneEvent(8, False, 10, 960)), 48_000
    )
    assert closed.digit == "7" and not closed.ended


def test_receiver_ignores_non_dtmf_events_and_zero_durations() -> None:
    receiver = TelephoneEventReceiver()
    assert receiver.on_event_packet(1, 10, bytes(TelephoneEvent(16, True, 0, 800)), 8000) == []
    assert receiver.on_event_packet(1, 20, bytes(TelephoneEvent(3, True, 0, 0)), 8000) == []
    assert receiver.on_event_packet(1, 30, b"\x03", 8000) == []


def test_rewritten_rtp_keeps_the_stream_and_carries_the_event() -> None:
    header = bytes((0x90, 0x80 | 96)) + (4242).to_bytes(2, "big") + (777).to_bytes(4, "big")
    header += (0xDEADBEEF).to_bytes(4, "big")
    extension = (0xBEDE).to_bytes(2, "big") + (1).to_bytes(2, "big") + b"\x10\x30\x00\x00"
    audio = header + extension + b"opus-frame-bytes"
    sender = TelephoneEventSender(payload_type=110, clock_rate=48000)
    sender.enqueue([10])
    packet = sender.on_audio_packet(777)
    assert packet is not None
    out = rewrite_rtp(audio, packet)
    assert out[0] == 0x90 and out[1] == 0x80 | 110  # marker, new payload type
    assert out[2:4] == audio[2:4] and out[8:12] == audio[8:12]  # same seq and SSRC
    assert int.from_bytes(out[4:8], "big") == 777
    assert out[12:20] == extension and TelephoneEvent.parse(out[20:]) == packet.event


# ------------------------------------------------------------------------- SIP INFO


def test_info_body_is_what_exotel_expects() -> None:
    assert dtmf_relay_body("5") == b"Signal=5\r\nDuration=240"
    assert dtmf_relay_body("#", duration=160) == b"Signal=#\r\nDuration=160"
    assert dtmf_relay_body("a") == b"Signal=A\r\nDuration=240"
    for bad in ("", "12", "x"):
        with pytest.raises(DtmfError):
            dtmf_relay_body(bad)
    with pytest.raises(DtmfError):
        dtmf_relay_body("1", duration=0)


@pytest.mark.parametrize("digit", list(DTMF_DIGITS))
def test_info_bodies_round_trip(digit: str) -> None:
    got = parse_dtmf_info("application/dtmf-relay", dtmf_relay_body(digit, 300))
    assert got == DtmfReceived(digit, 300, DtmfMode.INFO)


def test_info_parser_reads_what_peers_send() -> None:
    relay = "Application/DTMF-Relay; charset=us-ascii"
    assert parse_dtmf_info(relay, b"signal= 7 \nDURATION=100\n").digit == "7"
    assert parse_dtmf_info(relay, b"Signal=10\r\nDuration=250\r\n").digit == "*"
    assert parse_dtmf_info(relay, b"Signal=11").duration_ms is None
    assert parse_dtmf_info("application/dtmf", b"9\r\n") == DtmfReceived("9", None, DtmfMode.INFO)
    with pytest.raises(RemoteProtocolError) as unsupported:
        parse_dtmf_info("text/plain", b"Signal=1")
    assert unsupported.value.status_hint == 415
    for body in (b"Duration=100", b"Signal=Z", b"Signal=17", b"\xff"):
        with pytest.raises(RemoteProtocolError) as bad:
            parse_dtmf_info(relay, body)
        assert bad.value.status_hint == 400


# ------------------------------------------------------------------------- SDP


_ANSWER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
    "m=audio 4000 UDP/TLS/RTP/SAVPF {fmts}\r\nc=IN IP4 192.0.2.1\r\n{lines}"
)


def _answer(fmts: str, lines: list[str]) -> str:
    return _ANSWER.format(fmts=fmts, lines="".join(line + "\r\n" for line in lines))


def test_mode_is_rfc4733_only_with_telephone_event_at_the_codec_rate() -> None:
    pcmu_te = _answer("0 101", ["a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"])
    assert dtmf_mode(pcmu_te) is DtmfMode.RFC4733
    assert dtmf_mode(_answer("0", ["a=rtpmap:0 PCMU/8000"])) is DtmfMode.INFO
    opus_te8k = _answer(
        "111 126", ["a=rtpmap:111 opus/48000/2", "a=rtpmap:126 telephone-event/8000"]
    )
    assert dtmf_mode(opus_te8k) is DtmfMode.INFO  # one stream, one clock
    codec = telephone_event_for(opus_te8k, 8000)
    assert codec is not None and codec.payload_type == 126


def test_offers_gain_telephone_event_per_clock_rate_after_the_codecs() -> None:
    offer = _answer(
        "96 0 101",
        [
            "a=rtpmap:96 opus/48000/2",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 G726-32/8000",
            "a=ssrc:1 cname:x",
        ],
    )
    section = SessionDescription.parse(add_telephone_events(offer)).media[0]
    assert section.formats == ["96", "0", "101", "110", "97"]  # 101 taken: first free
    events = {(c.payload_type, c.clock_rate, c.fmtp) for c in section.telephone_events}
    assert events == {(110, 48000, "0-15"), (97, 8000, "0-15")}
    names = [line.name for line in section.attributes]
    assert names.index("ssrc") > names.index("fmtp")  # grouped with the codec lines
    assert add_telephone_events(add_telephone_events(offer)) == add_telephone_events(offer)


# ------------------------------------------------------------------------- in the stream


async def _pair(
    codec: str, *, a_events: bool = True, b_events: bool = True
) -> tuple[MediaSession, MediaSession, str]:
    a = MediaSession(MediaConfig(codecs=(codec,), telephone_event=a_events), Tone(440))
    b = MediaSession(MediaConfig(codecs=(codec,), telephone_event=b_events), Tone(1000))
    offer = await a.create_offer()
    answer = await b.create_answer(offer)
    await a.accept_answer(answer)
    return a, b, answer


@pytest.mark.parametrize("codec", ["opus", "PCMU"])
def test_keys_cross_in_the_audio_stream_once_each_in_order(codec: str) -> None:
    async def run() -> None:
        a, b, answer = await _pair(codec)
        try:
            assert dtmf_mode(answer) is DtmfMode.RFC4733
            heard: list[DtmfReceived] = []
            b.on_dtmf(heard.append)
            iterated: list[DtmfReceived] = []

            async def read() -> None:
                async for event in b.dtmf_received():
                    iterated.append(event)
                    if len(iterated) == 5:
                        return

            reader = asyncio.create_task(read())
            await asyncio.sleep(0.6)  # connected, audio flowing
            with pytest.raises(DtmfError):
                await a.send_dtmf("12x")  # refused before anything is sent
            assert a._tap is not None and a._tap.events_sent == 0
            await a.send_dtmf("1*9", duration_ms=120, gap_ms=60)
            await a.send_dtmf("#D", duration_ms=200)
            await asyncio.wait_for(reader, 1.0)
            assert [(e.digit, e.duration_ms, e.ended) for e in iterated] == [
                ("1", 120, True),
                ("*", 120, True),
                ("9", 120, True),
                ("#", 200, True),
                ("D", 200, True),
            ]
            assert heard == iterated
            # 120 ms = 6 packets, 200 ms = 10, each ending with two more end packets.
            assert a._tap.events_sent == 3 * (6 + 2) + 2 * (10 + 2)
            assert b._tap is not None and b._tap.events_received == a._tap.events_sent
            # The audio resumed, and the events left no false loss behind.
            await asyncio.sleep(0.4)
            resumed = b.inbound.recent(0.25)
            assert tone_ratio(resumed, 440) > 0.8, dominant_frequency(resumed)
            assert (await b.get_stats()).packets_lost == 0
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def _receiving(session: MediaSession) -> bool:
    """Whether aiortc started the session's receiver (it registers the audio codec with
    its packet router then, and only then)."""
    transceiver = session._transceiver
    assert transceiver is not None
    audio = transceiver._codecs[0].payloadType
    assert audio is not None
    receiver = transceiver.receiver
    return receiver in receiver.transport._rtp_router.payload_type_table.get(audio, ())


def test_keys_cross_when_the_stream_connects_during_a_hold_renegotiation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What two Phones do through a proxy: the callee holds and resumes twice at once,
    while ICE and DTLS are still coming up. The SDPs are the usual ones; the timing is
    not: aiortc starts the caller's receiver (and registers its payload types, once)
    while the caller applies the hold offer, when ``setRemoteDescription`` has just reset
    the codecs to the ones aiortc decodes. The keys sent after resuming must arrive."""

    async def run() -> None:
        a = MediaSession(MediaConfig(), Tone(440))
        b = MediaSession(MediaConfig(), Tone(1000))
        try:
            await a.accept_answer(await b.create_answer(await a.create_offer()))
            apply_offer = a._pc.setRemoteDescription
            started_inside: list[bool] = []

            async def apply_then_connect(description: RTCSessionDescription) -> None:
                receiving = _receiving(a)
                await apply_offer(description)
                while not _receiving(a):
                    await asyncio.sleep(0.005)
                started_inside.append(not receiving)

            monkeypatch.setattr(a._pc, "setRemoteDescription", apply_then_connect)
            for _ in range(2):
                await b.accept_answer(await a.create_answer(await b.hold_offer()))
                assert (a.held_by_remote, b.on_hold) == (True, True)
                await b.accept_answer(await a.create_answer(await b.resume_offer()))
                assert (a.held_by_remote, b.on_hold) == (False, False)
            # DTLS came up while a applied the first hold offer, as through the proxy.
            assert started_inside == [True, False, False, False]

            at_a: list[str] = []
            at_b: list[str] = []
            a.on_dtmf(lambda event: at_a.append(event.digit))
            b.on_dtmf(lambda event: at_b.append(event.digit))
            await asyncio.sleep(0.3)  # audio flowing again
            await b.send_dtmf("5#")
            await a.send_dtmf("19*")
            await asyncio.sleep(0.2)
            assert (at_a, at_b) == (["5", "#"], ["1", "9", "*"])
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_without_telephone_event_the_mode_is_info_and_rtp_dtmf_is_refused() -> None:
    async def run() -> None:
        a, b, answer = await _pair("PCMU", b_events=False)
        try:
            assert dtmf_mode(answer) is DtmfMode.INFO
            with pytest.raises(DtmfError, match="SIP INFO"):
                await a.send_dtmf("1")
            got: list[DtmfReceived] = []
            b.on_dtmf(got.append)
            event = b.receive_dtmf_info("application/dtmf-relay", dtmf_relay_body("7"))
            assert got == [event] and event.digit == "7" and event.duration_ms == 240
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
