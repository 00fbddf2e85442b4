"""Offer/answer (RFC 3264) over the SDP model: directions, codecs, answers, hold, versions.

Pure functions: each takes descriptions (or sections) and returns new ones; nothing
passed in is modified. Peer faults are ``RemoteProtocolError`` with status hint 488
("Not Acceptable Here") where an offer cannot be answered, 400 where it is malformed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.sdp import (
    Attribute,
    Codec,
    Connection,
    Direction,
    Group,
    Line,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

__all__ = [
    "Preference",
    "CodecPreference",
    "AudioCapabilities",
    "answer_direction",
    "negotiate_codecs",
    "require_common_codecs",
    "check_offer",
    "answer_audio_media",
    "rejected_media",
    "build_answer",
    "HOLD",
    "RESUME",
    "hold_offer",
    "resume_offer",
    "bump_if_changed",
]

Preference: TypeAlias = Literal["local", "remote"]
"""Whose codec order wins in ``negotiate_codecs``."""

# Encodings that only make sense beside a real codec and at its clock rate: RFC 4733
# DTMF events and RFC 3389 comfort noise.
_RATE_FOLLOWERS: Final = frozenset({"telephone-event", "cn"})

# The telephone-event rate every RFC 4733 implementation offers (and the one answered
# when no chosen codec shares a rate with an offered telephone-event).
_TELEPHONE_EVENT_FALLBACK_RATE: Final = 8000


# ---------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------


def answer_direction(offered: Direction, local: Direction = Direction.SENDRECV) -> Direction:
    """The direction to answer an offered stream with.

    RFC 3264 §6.1: "If a stream is offered as sendonly, the corresponding stream MUST be
    marked as recvonly or inactive in the answer. If a media stream is listed as recvonly
    in the offer, the answer MUST be marked as sendonly or inactive in the answer. If an
    offered media stream is listed as sendrecv ..., the corresponding stream in the answer
    MAY be marked as sendonly, recvonly, sendrecv, or inactive. If an offered media stream
    is listed as inactive, it MUST be marked as inactive in the answer."

    The answer is the offer reversed, intersected with what we want (as RFC 8829 §5.3.1
    does): we send only if the offerer receives and we want to send, and receive only if
    the offerer sends and we want to receive. So sendonly gives recvonly, recvonly gives
    sendonly, inactive gives inactive and sendrecv gives ``local``.

    Args:
        offered: the offered stream's direction (``SessionDescription.direction_for``).
        local: what we want to do with the stream.

    Returns:
        The answer's direction.
    """
    return Direction.from_flags(
        sends=offered.receives and local.sends,
        receives=offered.sends and local.receives,
    )


# RFC 3264 §8.4: "If the stream to be placed on hold was previously a sendrecv media
# stream, it is placed on hold by marking it sendonly. If the stream to be placed on
# hold was previously a recvonly media stream, it is placed on hold by marking it
# inactive." Streams that already send nothing to us stay as they are.
HOLD: Final[Mapping[Direction, Direction]] = MappingProxyType(
    {
        Direction.SENDRECV: Direction.SENDONLY,
        Direction.RECVONLY: Direction.INACTIVE,
        Direction.SENDONLY: Direction.SENDONLY,
        Direction.INACTIVE: Direction.INACTIVE,
    }
)
"""Our direction before a hold -> our direction on hold (RFC 3264 §8.4)."""

# The inverse of HOLD: resuming lets us receive again. A stream that was inactive
# before the hold comes back recvonly (the hold offer cannot tell the two apart).
RESUME: Final[Mapping[Direction, Direction]] = MappingProxyType(
    {
        Direction.SENDONLY: Direction.SENDRECV,
        Direction.INACTIVE: Direction.RECVONLY,
        Direction.SENDRECV: Direction.SENDRECV,
        Direction.RECVONLY: Direction.RECVONLY,
    }
)
"""Our direction on hold -> our direction after resuming."""


# ---------------------------------------------------------------------------------------
# Codecs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodecPreference:
    """A codec we support, matched against offered codecs by name and, if given, rate
    and channels. ``CodecPreference.parse("opus/48000/2")`` reads the rtpmap notation."""

    name: str
    """Encoding name, matched case-insensitively (RFC 8866 §6.6)."""
    clock_rate: int | None = None
    """Required clock rate; ``None`` accepts any (for telephone-event and CN: the rates
    of the codecs chosen beside them)."""
    channels: int | None = None
    """Required channel count (``opus/48000/2``); ``None`` accepts any. An offered codec
    without a channel count has one channel."""
    fmtp: str | None = None
    """Our fmtp parameters for the answer; ``None`` echoes the offer's."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name.split() != [self.name]:
            raise LocalProtocolError(f"codec name must be a token: {self.name!r}")
        if "/" in self.name:
            raise LocalProtocolError(
                f"codec name must not contain '/' (use CodecPreference.parse): {self.name!r}"
            )
        for what in ("clock_rate", "channels"):
            value = getattr(self, what)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise LocalProtocolError(f"{what} must be a positive integer: {value!r}")

    @classmethod
    def parse(cls, text: str) -> CodecPreference:
        """Read ``name[/clock rate[/channels]]`` (``PCMU``, ``telephone-event/8000``).

        Args:
            text: the codec in rtpmap notation.

        Returns:
            The preference.

        Raises:
            LocalProtocolError: the text is not in that notation.
        """
        parts = text.strip().split("/")
        if not 1 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts[1:]):
            raise LocalProtocolError(f"expected name[/clock rate[/channels]]: {text!r}")
        numbers = [int(p) for p in parts[1:]] + [None, None]
        return cls(parts[0], numbers[0], numbers[1])

    @property
    def follows_rate(self) -> bool:
        """Whether this is telephone-event or CN, kept only beside a real codec."""
        return self.name.lower() in _RATE_FOLLOWERS

    def matches(self, codec: Codec) -> bool:
        """Whether ``codec`` is this codec.

        Args:
            codec: an offered codec.

        Returns:
            True if the name matches (case-insensitively) and so do the clock rate and
            channel count this preference names.
        """
        if codec.name.lower() != self.name.lower():
            return False
        if self.clock_rate is not None and codec.clock_rate != self.clock_rate:
            return False
        return self.channels is None or (codec.channels or 1) == self.channels


def _preferences(supported: Sequence[CodecPreference | str]) -> list[CodecPreference]:
    return [CodecPreference.parse(p) if isinstance(p, str) else p for p in supported]


def _with_local_fmtp(codec: Codec, preference: CodecPreference) -> Codec:
    if preference.fmtp is None:
        return codec
    return Codec(codec.payload_type, codec.name, codec.clock_rate, codec.channels, preference.fmtp)


def _in_order(ranked: list[tuple[int, int, Codec]], prefer: Preference) -> list[Codec]:
    """Codecs from (our rank, offer position, codec): by our rank then the offer's
    position when we prefer ours, by the offer's position alone otherwise."""
    if prefer == "local":
        ranked = sorted(ranked, key=lambda item: (item[0], item[1]))
    else:
        ranked = sorted(ranked, key=lambda item: item[1])
    return [codec for _, _, codec in ranked]


def negotiate_codecs(
    offered: Sequence[Codec],
    supported: Sequence[CodecPreference | str],
    prefer: Preference = "local",
) -> list[Codec]:
    """The codecs both sides support, for the answer's m= line.

    Matching is by name (case-insensitive), plus clock rate and channels where the
    preference names them. The result keeps the offerer's payload type numbers (RFC 3264
    §6.1: "if a particular codec was referenced with a specific payload type number in
    the offer, that same payload type number SHOULD be used for that codec in the
    answer") and its fmtp, unless the preference carries its own fmtp.

    Order: with ``prefer="local"`` our list decides (ties in offer order); with
    ``"remote"`` the offer's order does. telephone-event and CN come after the codecs
    they accompany; without an explicit rate they are kept at the rates of the chosen
    codecs (a DTMF stream beside opus is telephone-event/48000, beside PCMU /8000), and
    telephone-event falls back to /8000 when no chosen codec shares an offered rate.

    Args:
        offered: the offer's codecs in its order (``MediaDescription.codecs``).
        supported: ours, as ``CodecPreference`` or rtpmap-style strings (``"opus"``,
            ``"PCMU/8000"``, ``"telephone-event"``), most preferred first.
        prefer: whose order wins.

    Returns:
        The common codecs; empty when no codec other than telephone-event/CN is common.

    Raises:
        LocalProtocolError: ``prefer`` is not "local" or "remote", or a string in
            ``supported`` is not in rtpmap notation.
    """
    if prefer not in ("local", "remote"):
        raise LocalProtocolError(f"prefer must be 'local' or 'remote': {prefer!r}")
    preferences = _preferences(supported)
    main = [p for p in preferences if not p.follows_rate]
    followers = [p for p in preferences if p.follows_rate]

    # (preference rank, offer position, codec) for every offered codec we support.
    chosen: list[tuple[int, int, Codec]] = []
    for position, codec in enumerate(offered):
        if codec.name.lower() in _RATE_FOLLOWERS:
            continue
        for rank, preference in enumerate(main):
            if preference.matches(codec):
                chosen.append((rank, position, _with_local_fmtp(codec, preference)))
                break
    if not chosen:
        return []
    result = _in_order(chosen, prefer)
    rates = {codec.clock_rate for codec in result}

    extra: list[tuple[int, int, Codec]] = []
    taken: set[int] = set()
    for rank, preference in enumerate(followers):
        matching = [(pos, c) for pos, c in enumerate(offered) if preference.matches(c)]
        if preference.clock_rate is None:
            at_our_rates = [(pos, c) for pos, c in matching if c.clock_rate in rates]
            if not at_our_rates and preference.name.lower() == "telephone-event":
                at_our_rates = [
                    (pos, c)
                    for pos, c in matching
                    if c.clock_rate == _TELEPHONE_EVENT_FALLBACK_RATE
                ]
            matching = at_our_rates
        for position, codec in matching:
            if position not in taken:
                taken.add(position)
                extra.append((rank, position, _with_local_fmtp(codec, preference)))
    return result + _in_order(extra, prefer)


def require_common_codecs(
    offered: Sequence[Codec],
    supported: Sequence[CodecPreference | str],
    prefer: Preference = "local",
) -> list[Codec]:
    """``negotiate_codecs``, refusing an offer with nothing in common.

    Args:
        offered: the offer's codecs in its order.
        supported: ours, most preferred first.
        prefer: whose order wins.

    Returns:
        The common codecs (never empty).

    Raises:
        RemoteProtocolError: no codec in common (status 488 Not Acceptable Here,
            RFC 3261 §21.4.26).
        LocalProtocolError: as for ``negotiate_codecs``.
    """
    codecs = negotiate_codecs(offered, supported, prefer)
    if not codecs:
        names = ", ".join(f"{c.name}/{c.clock_rate}" for c in offered) or "none"
        raise RemoteProtocolError(f"no codec in common (offered: {names})", status_hint=488)
    return codecs


# ---------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioCapabilities:
    """What we can do with an audio stream, to answer an offer with.

    ICE and DTLS are the caller's business: pass ``a=ice-ufrag``, ``a=ice-pwd``,
    ``a=fingerprint``, ``a=setup``, candidates... in ``attributes``.
    """

    codecs: tuple[CodecPreference | str, ...]
    """Supported codecs, most preferred first (``"opus/48000/2"``, ``"PCMU"``...)."""
    port: int
    """Our RTP port for the answer's m= line."""
    connection: Connection | None = None
    """Our ``c=`` line, written at media level (``None``: the caller writes one elsewhere)."""
    direction: Direction = Direction.SENDRECV
    """What we want to do with the stream (``answer_direction``'s ``local``)."""
    attributes: tuple[Attribute, ...] = ()
    """Transport attributes to write right after ``c=`` (ICE, DTLS...)."""
    prefer: Preference = "local"
    """Whose codec order wins (``negotiate_codecs``)."""
    rtcp_mux: bool = True
    """Accept ``a=rtcp-mux`` when offered (RFC 5761 §5.1.1)."""
    ptime: int | None = None
    """``a=ptime`` to write, in milliseconds (RFC 8866 §6.4)."""

    def __post_init__(self) -> None:
        if not self.codecs:
            raise LocalProtocolError("AudioCapabilities needs at least one codec")
        _preferences(self.codecs)  # a malformed codec string fails here, not mid-call
        if not isinstance(self.port, int) or not 0 < self.port <= 65535:
            raise LocalProtocolError(f"port must be in 1..65535: {self.port!r}")
        if self.prefer not in ("local", "remote"):
            raise LocalProtocolError(f"prefer must be 'local' or 'remote': {self.prefer!r}")
        if self.ptime is not None and (not isinstance(self.ptime, int) or self.ptime <= 0):
            raise LocalProtocolError(f"ptime must be a positive integer: {self.ptime!r}")


def rejected_media(section: MediaDescription) -> MediaDescription:
    """The answer (or new offer) line that rejects or removes ``section``.

    RFC 3264 §6: "To reject an offered stream, the port number in the corresponding
    stream in the answer MUST be set to zero. Any media formats listed are ignored. At
    least one MUST be present, as specified by SDP." The media type, transport and
    formats are copied; ``a=mid`` is kept so BUNDLE and JSEP peers (RFC 8843, RFC 8829)
    can still match the sections.

    Args:
        section: the offered section.

    Returns:
        A new section with port 0.
    """
    mid = section.mid
    lines: list[Line] = [] if mid is None else [Attribute("mid", mid)]
    return MediaDescription(section.media, 0, section.proto, list(section.formats), None, lines)


def _audio_answer(
    section: MediaDescription,
    capabilities: AudioCapabilities,
    codecs: list[Codec],
    offered_direction: Direction,
) -> MediaDescription:
    lines: list[Line] = []
    if capabilities.connection is not None:
        lines.append(capabilities.connection)
    lines += capabilities.attributes
    mid = section.mid
    if mid is not None:
        # RFC 5888 (grouping): the answer's section carries the offer's identification-tag.
        lines.append(Attribute("mid", mid))
    if capabilities.rtcp_mux and section.rtcp_mux:
        lines.append(Attribute("rtcp-mux"))
    lines.append(answer_direction(offered_direction, capabilities.direction).to_attribute())
    for codec in codecs:
        lines += codec.to_attributes()
    if capabilities.ptime is not None:
        lines.append(Attribute("ptime", str(capabilities.ptime)))
    return MediaDescription(
        section.media,
        capabilities.port,
        section.proto,
        [str(codec.payload_type) for codec in codecs],
        None,
        lines,
    )


def answer_audio_media(
    section: MediaDescription,
    capabilities: AudioCapabilities,
    *,
    offered_direction: Direction | None = None,
) -> MediaDescription:
    """Answer one offered audio section.

    The answer keeps the offer's media type and transport, lists the common codecs with
    the offerer's payload types (``negotiate_codecs``), and writes, in order: our
    ``c=``, ``capabilities.attributes``, ``a=mid`` (copied), ``a=rtcp-mux`` (if offered
    and accepted), the direction (``answer_direction``), rtpmap/fmtp per codec, ptime.
    A section offered with port 0 is answered with port 0 (``rejected_media``).

    Args:
        section: the offered section.
        capabilities: what we support, and our transport details.
        offered_direction: the offered direction when it is stated at session level
            (``offer.direction_for(section)``); by default the section's own, else
            sendrecv.

    Returns:
        The answer's section.

    Raises:
        RemoteProtocolError: no codec in common (status 488).
    """
    if section.port == 0:
        return rejected_media(section)
    codecs = require_common_codecs(section.codecs, capabilities.codecs, capabilities.prefer)
    if offered_direction is None:
        offered_direction = section.direction or Direction.SENDRECV
    return _audio_answer(section, capabilities, codecs, offered_direction)


def check_offer(offer: SessionDescription) -> None:
    """Refuse an offer this UA must not answer.

    * RFC 8866 §5: "an SDP parser MUST completely ignore or reject any session
      description that contains a type letter that it does not understand": we reject
      (488).
    * RFC 8866 §5.7: "A session description MUST contain either at least one 'c=' line
      in each media description or a single 'c=' line at the session level": a stream
      that is not rejected but has no address is malformed (400).

    Args:
        offer: the received offer.

    Raises:
        RemoteProtocolError: status 488 or 400 as above.
    """
    unknown = offer.unknown_lines()
    if unknown:
        letters = ", ".join(sorted({line.type + "=" for line in unknown}))
        raise RemoteProtocolError(f"SDP has unknown line types: {letters}", status_hint=488)
    for number, section in enumerate(offer.media, 1):
        if section.port != 0 and offer.connection_for(section) is None:
            raise RemoteProtocolError(f"SDP media section {number} has no c= line")


def build_answer(
    offer: SessionDescription,
    *,
    origin: Origin,
    audio: AudioCapabilities,
    session_name: str = "-",
    session_attributes: Sequence[Attribute] = (),
) -> SessionDescription:
    """Answer an offer with one audio stream; every other section is rejected.

    RFC 3264 §6: the answer has one m= line per offered m= line, in the same order. The
    first audio section (port not 0) that shares a codec with us is answered
    (``answer_audio_media``); every other section gets port 0 (``rejected_media``). If
    the offer bundles the accepted section (RFC 8843), the answer's ``a=group:BUNDLE``
    names it.

    Args:
        offer: the received offer.
        origin: our ``o=`` line (keep it across the session: ``bump_if_changed``).
        audio: our audio capabilities and transport details.
        session_name: our ``s=`` text.
        session_attributes: session-level attributes to add (``a=ice-lite``...).

    Returns:
        The answer.

    Raises:
        RemoteProtocolError: ``check_offer`` refuses the offer (488/400), or no audio
            section shares a codec with us (488).
    """
    check_offer(offer)
    media: list[MediaDescription] = []
    accepted: MediaDescription | None = None
    for section in offer.media:
        if accepted is None and section.media == "audio" and section.port != 0:
            codecs = negotiate_codecs(section.codecs, audio.codecs, audio.prefer)
            if codecs:
                accepted = section
                media.append(_audio_answer(section, audio, codecs, offer.direction_for(section)))
                continue
        media.append(rejected_media(section))
    if accepted is None:
        offered = "; ".join(
            f"m={s.media} " + (" ".join(f"{c.name}/{c.clock_rate}" for c in s.codecs) or "-")
            for s in offer.media
        )
        raise RemoteProtocolError(
            f"no audio stream shares a codec with us ({offered or 'no media'})", status_hint=488
        )
    lines: list[Line] = [Timing(0, 0)]
    bundle = offer.bundle
    mid = accepted.mid
    if bundle is not None and mid is not None and mid in bundle.mids:
        lines.append(Group(bundle.semantics, (mid,)).to_attribute())
    lines += session_attributes
    return SessionDescription(origin, session_name, lines, media)


# ---------------------------------------------------------------------------------------
# Hold, resume and versions
# ---------------------------------------------------------------------------------------


def bump_if_changed(
    previous: SessionDescription, proposed: SessionDescription
) -> SessionDescription:
    """Give ``proposed`` the origin it must carry after ``previous`` in the same session.

    RFC 3264 §8: "When issuing an offer that modifies the session, the "o=" line of the
    new SDP MUST be identical to that in the previous SDP, except that the version in
    the origin field MUST increment by one from the previous SDP. If the version in the
    origin line does not increment, the SDP MUST be identical to the SDP with that
    version number." The same holds for the answerer's successive answers.

    Args:
        previous: the description we last sent in this session.
        proposed: the one we want to send now (its own ``o=`` is ignored).

    Returns:
        A copy of ``proposed`` with ``previous``'s origin, its version one greater
        if anything else differs from ``previous``, unchanged otherwise.
    """
    result = proposed.copy()
    result.origin = previous.origin
    if result != previous:
        result.origin = previous.origin.next_version()
    return result


def _redirect(
    current: SessionDescription, table: Mapping[Direction, Direction]
) -> SessionDescription:
    proposed = current.copy()
    for section in proposed.media:
        if section.port != 0:
            section.direction = table[proposed.direction_for(section)]
    return bump_if_changed(current, proposed)


def hold_offer(current: SessionDescription) -> SessionDescription:
    """The re-offer that puts the call on hold (RFC 3264 §8.4, table ``HOLD``).

    Each active stream's direction (its own, else the session's, else sendrecv) is
    replaced at media level: sendrecv becomes sendonly, recvonly becomes inactive.
    Rejected streams (port 0) are left alone. The origin version goes up by one if
    anything changed (``bump_if_changed``), so holding twice sends the same SDP.

    Args:
        current: the description we last sent in this session.

    Returns:
        The new offer; ``current`` is unchanged.
    """
    return _redirect(current, HOLD)


def resume_offer(current: SessionDescription) -> SessionDescription:
    """The re-offer that takes the call off hold (table ``RESUME``).

    sendonly becomes sendrecv and inactive becomes recvonly; the origin version goes
    up by one if anything changed.

    Args:
        current: the description we last sent in this session (the hold offer).

    Returns:
        The new offer; ``current`` is unchanged.
    """
    return _redirect(current, RESUME)
