"""Offer/answer (RFC 3264) helpers: directions, codec negotiation, answers, hold, versions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.offer_answer import (
    HOLD,
    RESUME,
    AudioCapabilities,
    CodecPreference,
    answer_audio_media,
    answer_direction,
    build_answer,
    bump_if_changed,
    check_offer,
    hold_offer,
    negotiate_codecs,
    rejected_media,
    require_common_codecs,
    resume_offer,
)
from sipcore.sdp import (
    Attribute,
    Codec,
    Connection,
    Direction,
    Field,
    Group,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

SENDRECV, SENDONLY, RECVONLY, INACTIVE = (
    Direction.SENDRECV,
    Direction.SENDONLY,
    Direction.RECVONLY,
    Direction.INACTIVE,
)


def _sdp_dir() -> Path:
    for candidate in (
        Path(os.environ.get("SIPCORE_TESTDATA", "/nonexistent")) / "sdp",
        Path(__file__).resolve().parents[2] / "testdata" / "sdp",
        Path("/work/shared/testdata/sdp"),
    ):
        if (candidate / "MANIFEST.tsv").is_file():
            return candidate
    return Path("/work/shared/testdata/sdp")


SDP_DIR = _sdp_dir()


def load(file: str) -> SessionDescription:
    return SessionDescription.parse((SDP_DIR / file).read_bytes())


OUR_ORIGIN = Origin("-", "4242", 1, "IN", "IP4", "192.0.2.10")
OUR_CONNECTION = Connection("IN", "IP4", "192.0.2.10")
DTLS = (
    Attribute("ice-ufrag", "Ab12"),
    Attribute("ice-pwd", "0123456789abcdefghijklmn"),
    Attribute("fingerprint", "sha-256 AA:BB"),
    Attribute("setup", "active"),
)


# ---------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------

# (offered, ours) -> answer. RFC 3264 §6.1: sendonly -> recvonly or inactive; recvonly ->
# sendonly or inactive; inactive -> inactive; sendrecv -> anything (here: what we want).
ANSWER_TABLE = [
    (SENDRECV, SENDRECV, SENDRECV),
    (SENDRECV, SENDONLY, SENDONLY),
    (SENDRECV, RECVONLY, RECVONLY),
    (SENDRECV, INACTIVE, INACTIVE),
    (SENDONLY, SENDRECV, RECVONLY),
    (SENDONLY, SENDONLY, INACTIVE),
    (SENDONLY, RECVONLY, RECVONLY),
    (SENDONLY, INACTIVE, INACTIVE),
    (RECVONLY, SENDRECV, SENDONLY),
    (RECVONLY, SENDONLY, SENDONLY),
    (RECVONLY, RECVONLY, INACTIVE),
    (RECVONLY, INACTIVE, INACTIVE),
    (INACTIVE, SENDRECV, INACTIVE),
    (INACTIVE, SENDONLY, INACTIVE),
    (INACTIVE, RECVONLY, INACTIVE),
    (INACTIVE, INACTIVE, INACTIVE),
]


@pytest.mark.parametrize(("offered", "ours", "expected"), ANSWER_TABLE)
def test_answer_direction_table(offered: Direction, ours: Direction, expected: Direction) -> None:
    assert answer_direction(offered, ours) is expected


def test_answer_direction_defaults_to_sendrecv_locally() -> None:
    assert answer_direction(SENDONLY) is RECVONLY
    assert answer_direction(RECVONLY) is SENDONLY
    assert answer_direction(INACTIVE) is INACTIVE
    assert answer_direction(SENDRECV) is SENDRECV


@given(st.sampled_from(list(Direction)), st.sampled_from(list(Direction)))
def test_answer_never_sends_or_receives_what_the_offer_does_not_allow(
    offered: Direction, ours: Direction
) -> None:
    answer = answer_direction(offered, ours)
    assert not answer.sends or offered.receives
    assert not answer.receives or offered.sends


def test_hold_and_resume_tables() -> None:
    # RFC 3264 §8.4
    assert dict(HOLD) == {
        SENDRECV: SENDONLY,
        RECVONLY: INACTIVE,
        SENDONLY: SENDONLY,
        INACTIVE: INACTIVE,
    }
    assert dict(RESUME) == {
        SENDONLY: SENDRECV,
        INACTIVE: RECVONLY,
        SENDRECV: SENDRECV,
        RECVONLY: RECVONLY,
    }
    for before in (SENDRECV, RECVONLY):
        assert RESUME[HOLD[before]] is before


# ---------------------------------------------------------------------------------------
# Codec negotiation
# ---------------------------------------------------------------------------------------


def _pts(codecs: list[Codec]) -> list[int]:
    return [c.payload_type for c in codecs]


def test_local_preference_orders_by_our_list() -> None:
    offered = load("aiortc__chrome_audio_offer.sdp").media[0].codecs
    result = negotiate_codecs(offered, ["PCMU", "opus", "telephone-event"], prefer="local")
    # PCMU first because we prefer it; the offerer's PT numbers stay; DTMF follows at
    # the chosen codecs' rates (opus 48000 -> 110, PCMU 8000 -> 126).
    assert _pts(result) == [0, 111, 110, 126]
    assert result[1] == Codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1")
    assert [c.clock_rate for c in result[2:]] == [48000, 8000]


def test_remote_preference_orders_by_the_offer() -> None:
    offered = load("aiortc__chrome_audio_offer.sdp").media[0].codecs
    result = negotiate_codecs(offered, ["PCMU", "opus", "telephone-event"], prefer="remote")
    assert _pts(result) == [111, 0, 110, 126]


def test_offerer_payload_type_numbers_are_kept() -> None:
    offered = [
        Codec(8, "PCMA", 8000),
        Codec(0, "PCMU", 8000),
        Codec(118, "telephone-event", 8000, None, "0-15"),
    ]
    result = negotiate_codecs(offered, ["PCMU/8000", "PCMA/8000", "telephone-event/8000"])
    assert result == [Codec(0, "PCMU", 8000), Codec(8, "PCMA", 8000), offered[2]]


def test_telephone_event_follows_the_chosen_rate() -> None:
    jsep = load("sdptransform__jsep.sdp").media[0].codecs  # opus 96, te/8000 97, te/48000 98
    assert _pts(negotiate_codecs(jsep, ["opus/48000/2", "telephone-event"])) == [96, 98]
    assert _pts(negotiate_codecs(jsep, ["PCMU", "telephone-event"])) == [0, 97]
    assert _pts(negotiate_codecs(jsep, ["PCMU", "opus", "telephone-event"])) == [0, 96, 97, 98]
    # An explicit rate is taken literally.
    assert _pts(negotiate_codecs(jsep, ["opus", "telephone-event/8000"])) == [96, 97]


def test_telephone_event_at_8000_is_kept_beside_opus_when_it_is_all_there_is() -> None:
    offered = [Codec(111, "opus", 48000, 2), Codec(101, "telephone-event", 8000, None, "0-16")]
    assert _pts(negotiate_codecs(offered, ["opus", "telephone-event"])) == [111, 101]
    # ...but not an odd rate that matches nothing
    odd = [Codec(111, "opus", 48000, 2), Codec(101, "telephone-event", 16000)]
    assert _pts(negotiate_codecs(odd, ["opus", "telephone-event"])) == [111]


def test_telephone_event_needs_both_sides() -> None:
    offered = load("aiortc__chrome_audio_offer.sdp").media[0].codecs
    assert _pts(negotiate_codecs(offered, ["PCMU"])) == [0]
    freeswitch = load("aiortc__freeswitch_webrtc_audio_answer.sdp").media[0].codecs
    assert _pts(negotiate_codecs(freeswitch, ["PCMA", "telephone-event"])) == [8, 101]


def test_comfort_noise_follows_the_chosen_rate() -> None:
    offered = load("aiortc__chrome_audio_offer.sdp").media[0].codecs  # CN 32k/16k/8k
    assert _pts(negotiate_codecs(offered, ["PCMU", "CN"])) == [0, 13]


def test_matching_is_case_insensitive_and_checks_rate_and_channels() -> None:
    offered = [Codec(111, "opus", 48000, 2), Codec(0, "PCMU", 8000), Codec(9, "G722", 8000)]
    assert _pts(negotiate_codecs(offered, ["pcmu"])) == [0]
    assert _pts(negotiate_codecs(offered, ["OPUS/48000/2"])) == [111]
    assert negotiate_codecs(offered, ["opus/48000/1"]) == []
    assert negotiate_codecs(offered, ["PCMU/16000"]) == []
    assert _pts(negotiate_codecs(offered, ["G722/8000"])) == [9]
    # An rtpmap without a channel count means one channel.
    mono = [Codec(96, "opus", 48000)]
    assert negotiate_codecs(mono, ["opus/48000/2"]) == []
    assert _pts(negotiate_codecs(mono, ["opus"])) == [96]
    assert _pts(negotiate_codecs(mono, [CodecPreference("opus", 48000, 1)])) == [96]


def test_no_common_codec() -> None:
    offered = load("aiortc__chrome_audio_offer.sdp").media[0].codecs
    assert negotiate_codecs(offered, ["G729"]) == []
    # telephone-event and CN alone are not a codec in common
    assert negotiate_codecs(offered, ["G729", "telephone-event", "CN"]) == []
    with pytest.raises(RemoteProtocolError) as info:
        require_common_codecs(offered, ["G729"])
    assert info.value.status_hint == 488
    assert "opus/48000" in str(info.value)
    assert _pts(require_common_codecs(offered, ["G722"])) == [9]


def test_our_fmtp_replaces_the_offered_one() -> None:
    offered = [Codec(111, "opus", 48000, 2, "minptime=10"), Codec(101, "telephone-event", 8000)]
    ours = [
        CodecPreference("opus", 48000, 2, "useinbandfec=1"),
        CodecPreference("telephone-event", fmtp="0-16"),
    ]
    assert negotiate_codecs(offered, ours) == [
        Codec(111, "opus", 48000, 2, "useinbandfec=1"),
        Codec(101, "telephone-event", 8000, None, "0-16"),
    ]


def test_codec_preference_parsing_and_errors() -> None:
    assert CodecPreference.parse("opus/48000/2") == CodecPreference("opus", 48000, 2)
    assert CodecPreference.parse(" PCMU ") == CodecPreference("PCMU")
    assert CodecPreference.parse("telephone-event/8000") == CodecPreference("telephone-event", 8000)
    for bad in ("", "opus/x", "a/1/2/3", "op us", "opus/-1"):
        with pytest.raises(LocalProtocolError):
            CodecPreference.parse(bad)
    with pytest.raises(LocalProtocolError):
        CodecPreference("opus/48000")
    with pytest.raises(LocalProtocolError):
        CodecPreference("opus", 0)
    with pytest.raises(LocalProtocolError):
        negotiate_codecs([], ["PCMU"], prefer="mine")  # type: ignore[arg-type]


@given(
    st.lists(
        st.sampled_from(["opus", "PCMU", "PCMA", "G722", "telephone-event", "CN"]), unique=True
    ),
    st.sampled_from(["local", "remote"]),
)
def test_negotiated_codecs_are_always_offered_ones(ours: list[str], prefer: str) -> None:
    offered = load("aiortc__safari_audio_video_data_offer.sdp").media[0].codecs
    result = negotiate_codecs(offered, ours, prefer=prefer)  # type: ignore[arg-type]
    offered_pts = {c.payload_type: c for c in offered}
    for codec in result:
        assert offered_pts[codec.payload_type] == codec
    assert len({c.payload_type for c in result}) == len(result)
    if not any(name in ours for name in ("opus", "PCMU", "PCMA", "G722")):
        assert result == []


# ---------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------


def _capabilities(**changes: object) -> AudioCapabilities:
    base: dict[str, object] = {
        "codecs": ("opus/48000/2", "PCMU", "PCMA", "telephone-event"),
        "port": 40000,
        "connection": OUR_CONNECTION,
        "attributes": DTLS,
    }
    base.update(changes)
    return AudioCapabilities(**base)  # type: ignore[arg-type]


def test_answer_audio_media_to_the_chrome_offer() -> None:
    offer = load("aiortc__chrome_audio_offer.sdp")
    answer = answer_audio_media(offer.media[0], _capabilities(ptime=20))
    assert answer.m_line() == "m=audio 40000 UDP/TLS/RTP/SAVPF 111 0 8 110 126"
    assert [line.to_line() for line in answer.lines] == [
        "c=IN IP4 192.0.2.10",
        "a=ice-ufrag:Ab12",
        "a=ice-pwd:0123456789abcdefghijklmn",
        "a=fingerprint:sha-256 AA:BB",
        "a=setup:active",
        "a=mid:audio",
        "a=rtcp-mux",
        "a=sendrecv",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ptime:20",
    ]
    # What we built reads back as what we meant.
    assert answer.codecs == negotiate_codecs(offer.media[0].codecs, _capabilities().codecs)


def test_answer_direction_follows_the_offer() -> None:
    offer = load("rtpengine__sip_phone_offer_in.sdp")
    section = offer.media[0].copy()
    section.direction = SENDONLY  # the far end puts us on hold
    answer = answer_audio_media(section, _capabilities(connection=None, attributes=()))
    assert answer.direction is RECVONLY
    assert not answer.rtcp_mux  # not offered
    assert answer.mid is None
    # A direction stated at session level is passed in by the caller.
    answer = answer_audio_media(offer.media[0], _capabilities(), offered_direction=RECVONLY)
    assert answer.direction is SENDONLY
    # We may want less than the offer allows.
    answer = answer_audio_media(offer.media[0], _capabilities(direction=RECVONLY))
    assert answer.direction is RECVONLY


def test_answer_without_rtcp_mux_when_we_do_not_want_it() -> None:
    offer = load("aiortc__chrome_audio_offer.sdp")
    assert not answer_audio_media(offer.media[0], _capabilities(rtcp_mux=False)).rtcp_mux


def test_answer_with_no_common_codec_is_refused_with_488() -> None:
    offer = load("aiortc__chrome_audio_offer.sdp")
    with pytest.raises(RemoteProtocolError) as info:
        answer_audio_media(offer.media[0], _capabilities(codecs=("G729", "telephone-event")))
    assert info.value.status_hint == 488


def test_rejected_media() -> None:
    offer = load("aiortc__safari_audio_video_data_offer.sdp")
    video = offer.media[1]
    rejected = rejected_media(video)
    assert rejected.port == 0
    assert rejected.is_rejected
    assert (rejected.media, rejected.proto, rejected.formats) == (
        video.media,
        video.proto,
        video.formats,
    )
    assert rejected.lines == [Attribute("mid", "video")]
    assert rejected.formats is not video.formats
    plain = rejected_media(load("rtpengine__sip_phone_offer_in.sdp").media[0])
    assert plain.m_line() == "m=audio 0 RTP/AVP 0 8"
    assert plain.lines == []
    # A section already offered with port 0 is answered with port 0.
    jsep = load("sdptransform__jsep.sdp")
    assert answer_audio_media(jsep.media[1], _capabilities()).port == 0


def test_build_answer_to_safari_offer() -> None:
    offer = load("aiortc__safari_audio_video_data_offer.sdp")
    answer = build_answer(offer, origin=OUR_ORIGIN, audio=_capabilities())
    assert answer.origin == OUR_ORIGIN
    assert [(m.media, m.port) for m in answer.media] == [
        ("audio", 40000),
        ("video", 0),
        ("application", 0),
    ]
    assert answer.lines == [Timing(0, 0), Group("BUNDLE", ("audio",)).to_attribute()]
    assert [m.mid for m in answer.media] == ["audio", "video", "data"]
    assert _pts(answer.media[0].codecs) == [111, 0, 8, 110, 126]
    check_offer(answer)
    assert SessionDescription.parse(str(answer)) == answer


def test_build_answer_to_a_plain_sip_phone() -> None:
    offer = load("rtpengine__sip_phone_offer_in.sdp")
    answer = build_answer(
        offer,
        origin=OUR_ORIGIN,
        audio=_capabilities(attributes=(), codecs=("PCMA", "PCMU")),
        session_name="sipcore",
        session_attributes=[Attribute("tool", "sipcore")],
    )
    assert str(answer) == (
        "v=0\r\n"
        "o=- 4242 1 IN IP4 192.0.2.10\r\n"
        "s=sipcore\r\n"
        "t=0 0\r\n"
        "a=tool:sipcore\r\n"
        "m=audio 40000 RTP/AVP 8 0\r\n"
        "c=IN IP4 192.0.2.10\r\n"
        "a=sendrecv\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    )


def test_build_answer_uses_session_level_direction() -> None:
    offer = load("rtpengine__sip_phone_offer_in.sdp")
    offer.add_attribute(Attribute("sendonly"))
    answer = build_answer(offer, origin=OUR_ORIGIN, audio=_capabilities())
    assert answer.media[0].direction is RECVONLY


def test_build_answer_skips_audio_sections_without_common_codecs() -> None:
    offer = load("rtpengine__sip_phone_offer_in.sdp")
    first = MediaDescription("audio", 5000, "RTP/AVP", ["18"])
    offer.media.insert(0, first)
    answer = build_answer(offer, origin=OUR_ORIGIN, audio=_capabilities(codecs=("PCMU",)))
    assert [m.port for m in answer.media] == [0, 40000]


def test_build_answer_refuses_offers_it_cannot_answer() -> None:
    video_only = load("aiortc__chrome_video_offer.sdp")
    with pytest.raises(RemoteProtocolError) as info:
        build_answer(video_only, origin=OUR_ORIGIN, audio=_capabilities())
    assert info.value.status_hint == 488
    assert "m=video VP8/90000" in str(info.value)

    no_common = load("rtpengine__sip_phone_offer_in.sdp")
    with pytest.raises(RemoteProtocolError) as info:
        build_answer(no_common, origin=OUR_ORIGIN, audio=_capabilities(codecs=("G729",)))
    assert info.value.status_hint == 488


def test_check_offer_rejects_unknown_type_letters_with_488() -> None:
    # RFC 8866 §5: "ignore or reject"; the parser kept the f= line, offer/answer rejects.
    invalid = load("sdptransform__invalid.sdp")
    with pytest.raises(RemoteProtocolError) as info:
        check_offer(invalid)
    assert info.value.status_hint == 488
    assert "f=" in str(info.value)
    with pytest.raises(RemoteProtocolError):
        build_answer(invalid, origin=OUR_ORIGIN, audio=_capabilities())
    # without the unknown line the same offer is answerable
    invalid.media[0].lines.remove(Field("f", "invalid:yes"))
    check_offer(invalid)


def test_check_offer_needs_a_connection_for_every_active_stream() -> None:
    offer = load("rtpengine__sip_phone_offer_in.sdp")
    offer.connection = None
    with pytest.raises(RemoteProtocolError) as info:
        check_offer(offer)
    assert info.value.status_hint == 400
    offer.media[0].port = 0  # a rejected stream needs no address
    check_offer(offer)


@pytest.mark.parametrize(
    "file",
    [
        "aiortc__chrome_audio_offer.sdp",
        "aiortc__firefox58_audio_offer.sdp",
        "aiortc__safari_audio_video_data_offer.sdp",
        "rtpengine__chrome_offer_gh850_in.sdp",
        "rtpengine__ice_dtls_offer_in.sdp",
        "rtpengine__sip_phone_offer_in.sdp",
        "sdptransform__jsep.sdp",
        "sdptransform__jssip.sdp",
        "sdptransform__icelite.sdp",
    ],
)
def test_every_audio_offer_gets_an_answer_with_one_line_per_offered_line(file: str) -> None:
    offer = load(file)
    answer = build_answer(offer, origin=OUR_ORIGIN, audio=_capabilities())
    assert len(answer.media) == len(offer.media)
    assert [m.media for m in answer.media] == [m.media for m in offer.media]
    accepted = [m for m in answer.media if m.port != 0]
    assert len(accepted) == 1
    offered = next(m for m in offer.media if m.media == "audio" and m.port != 0)
    assert set(accepted[0].formats) <= set(offered.formats)
    assert accepted[0].direction is answer_direction(offer.direction_for(offered))
    assert SessionDescription.parse(bytes(answer)) == answer


def test_capabilities_are_checked_up_front() -> None:
    with pytest.raises(LocalProtocolError):
        _capabilities(codecs=())
    with pytest.raises(LocalProtocolError):
        _capabilities(codecs=("opus/x",))
    with pytest.raises(LocalProtocolError):
        _capabilities(port=0)
    with pytest.raises(LocalProtocolError):
        _capabilities(prefer="theirs")
    with pytest.raises(LocalProtocolError):
        _capabilities(ptime=0)


# ---------------------------------------------------------------------------------------
# Hold, resume and sess-version
# ---------------------------------------------------------------------------------------


def _our_offer() -> SessionDescription:
    return SessionDescription(
        Origin("-", "777", 5, "IN", "IP4", "192.0.2.10"),
        "-",
        [Connection("IN", "IP4", "192.0.2.10"), Timing(0, 0)],
        [
            MediaDescription(
                "audio",
                40000,
                "RTP/AVP",
                ["0", "101"],
                lines=[
                    Attribute("rtpmap", "0 PCMU/8000"),
                    Attribute("rtpmap", "101 telephone-event/8000"),
                    Attribute("sendrecv"),
                    Attribute("ptime", "20"),
                ],
            ),
            MediaDescription("video", 0, "RTP/AVP", ["96"]),
        ],
    )


def test_hold_then_resume() -> None:
    current = _our_offer()
    before = str(current)
    held = hold_offer(current)
    assert str(current) == before  # the input is not modified
    assert held.media[0].direction is SENDONLY
    assert held.media[0].lines.index(Attribute("sendonly")) == 2  # replaced in place
    assert held.media[1].direction is None  # a rejected stream is left alone
    assert held.origin == current.origin.next_version()
    assert held.origin.sess_version == 6

    # Holding what is already held changes nothing: same SDP, same version (§8).
    assert hold_offer(held) == held

    resumed = resume_offer(held)
    assert resumed.media[0].direction is SENDRECV
    assert resumed.origin.sess_version == 7
    assert resume_offer(resumed) == resumed
    # Apart from the version, resuming restores the original.
    resumed.origin = current.origin
    assert resumed == current


def test_hold_from_recvonly_goes_inactive_and_back() -> None:
    current = _our_offer()
    current.media[0].direction = RECVONLY
    held = hold_offer(current)
    assert held.media[0].direction is INACTIVE
    assert resume_offer(held).media[0].direction is RECVONLY


def test_hold_with_direction_only_at_session_level() -> None:
    offer = load("aiortc__firefox58_audio_offer.sdp")  # a=sendrecv at both levels
    offer.media[0].direction = None
    held = hold_offer(offer)
    assert held.direction is SENDRECV  # session level untouched
    assert held.media[0].direction is SENDONLY  # the media level overrides it
    assert held.direction_for(held.media[0]) is SENDONLY
    assert held.origin.sess_version == offer.origin.sess_version + 1

    # No direction anywhere means sendrecv (RFC 3264 §6.1).
    phone = load("rtpengine__sip_phone_offer_in.sdp")
    assert hold_offer(phone).media[0].direction is SENDONLY


def test_bump_if_changed() -> None:
    previous = _our_offer()
    same = previous.copy()
    same.origin = Origin("x", "1", 99, "IN", "IP4", "203.0.113.1")  # ignored
    assert bump_if_changed(previous, same) == previous

    changed = previous.copy()
    changed.media[0].port = 40002
    bumped = bump_if_changed(previous, changed)
    assert bumped.origin == Origin("-", "777", 6, "IN", "IP4", "192.0.2.10")
    assert bumped.media[0].port == 40002
    assert changed.origin == previous.origin  # the input is not modified
    assert bumped.media[0] is not changed.media[0]

    # Versions keep climbing by one per change.
    again = bumped.copy()
    again.media[0].direction = INACTIVE
    assert bump_if_changed(bumped, again).origin.sess_version == 7
