"""Realistic offers, answers and ICE candidates that carry a token.

Sizes and shapes follow what Chrome produced in 2025 (audio with Opus and friends, video with
VP8/VP9/H.264/AV1 and their RTX, a data channel; 5 to 7 KB for an offer), so the server parses and
stores what it would in production. Candidates are ``JSON.stringify(candidate.toJSON())``, as the
rondevu browser client sent them, or ``a=candidate`` lines inside the SDP; the foundation is the
token. When each is gathered is ``loadtests._gathering``'s business.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

_AUDIO = [  # payload type, rtpmap, fmtp
    (111, "opus/48000/2", "minptime=10;useinbandfec=1"),
    (63, "red/48000/2", "111/111"),
    (9, "G722/8000", None),
    (0, "PCMU/8000", None),
    (8, "PCMA/8000", None),
    (13, "CN/8000", None),
    (110, "telephone-event/48000", None),
    (126, "telephone-event/8000", None),
]
_VIDEO = [
    (96, "VP8/90000", None),
    (98, "VP9/90000", "profile-id=0"),
    (100, "VP9/90000", "profile-id=2"),
    (102, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
    (104, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f"),
    (106, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
    (108, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"),
    (112, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"),
    (45, "AV1/90000", "level-idx=5;profile=0;tier=0"),
    (116, "red/90000", None),
]
_VIDEO_FEEDBACK = ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")
_AUDIO_EXTMAP = (
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:sdes:mid",
)
_VIDEO_EXTMAP = _AUDIO_EXTMAP[1:] + (
    "urn:ietf:params:rtp-hdrext:toffset",
    "urn:3gpp:video-orientation",
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
    "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
    "http://www.webrtc.org/experiments/rtp-hdrext/color-space",
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
)


@dataclass(frozen=True)
class IceCredentials:
    """One peer's ICE username fragment and password, shared by its SDP and its candidates."""

    ufrag: str
    pwd: str

    @classmethod
    def random(cls, rng: random.Random) -> IceCredentials:
        alphabet = string.ascii_letters + string.digits + "+/"
        return cls("".join(rng.choices(alphabet, k=4)), "".join(rng.choices(alphabet, k=24)))


def _media(kind: str, mid: int, codecs: list, extmap: tuple, feedback: tuple, rng: random.Random,
           ice: IceCredentials, fingerprint: str, setup: str, stream: str) -> list[str]:
    payloads = []
    for pt, _, _ in codecs:
        payloads.append(str(pt))
        if kind == "video":
            payloads.append(str(pt + 1))
    lines = [
        f"m={kind} 9 UDP/TLS/RTP/SAVPF {' '.join(payloads)}",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ice.ufrag}",
        f"a=ice-pwd:{ice.pwd}",
        "a=ice-options:trickle",
        f"a=fingerprint:sha-256 {fingerprint}",
        f"a=setup:{setup}",
        f"a=mid:{mid}",
    ]
    lines += [f"a=extmap:{i} {uri}" for i, uri in enumerate(extmap, start=1)]
    track = str(uuid.UUID(int=rng.getrandbits(128)))
    lines += ["a=sendrecv", f"a=msid:{stream} {track}", "a=rtcp-mux"]
    if kind == "video":
        lines.append("a=rtcp-rsize")
    for pt, rtpmap, fmtp in codecs:
        lines.append(f"a=rtpmap:{pt} {rtpmap}")
        lines += [f"a=rtcp-fb:{pt} {fb}" for fb in feedback]
        if fmtp:
            lines.append(f"a=fmtp:{pt} {fmtp}")
        if kind == "video":
            lines += [f"a=rtpmap:{pt + 1} rtx/90000", f"a=fmtp:{pt + 1} apt={pt}"]
    ssrc, rtx = rng.getrandbits(31) + 1, rng.getrandbits(31) + 1
    if kind == "video":
        lines.append(f"a=ssrc-group:FID {ssrc} {rtx}")
    for s in (ssrc, rtx) if kind == "video" else (ssrc,):
        lines += [f"a=ssrc:{s} cname:{ice.pwd[:16]}", f"a=ssrc:{s} msid:{stream} {track}"]
    return lines


def session_description(token: str, ice: IceCredentials, rng: random.Random, *,
                        answer: bool = False, candidates: Sequence[str] = ()) -> str:
    """A Chrome-like SDP whose origin line's session id is ``token``.

    An answer keeps the first codecs of each kind only, as a browser's answer does.
    ``candidates`` (``candidate:`` attributes) go into the first media section, which every
    other one is bundled with: the local description of a peer that waited for gathering to
    complete before sending it (``--trickle off``).
    """
    fingerprint = ":".join(f"{rng.getrandbits(8):02X}" for _ in range(32))
    setup = "active" if answer else "actpass"
    stream = str(uuid.UUID(int=rng.getrandbits(128)))
    audio = _AUDIO[:3] if answer else _AUDIO
    video = _VIDEO[:4] if answer else _VIDEO
    lines = [
        "v=0",
        f"o=- {token} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=extmap-allow-mixed",
        f"a=msid-semantic: WMS {stream}",
    ]
    common = dict(rng=rng, ice=ice, fingerprint=fingerprint, setup=setup, stream=stream)
    lines += _media("audio", 0, audio, _AUDIO_EXTMAP, ("transport-cc",), **common)
    lines += [f"a={line}" for line in candidates]
    lines += _media("video", 1, video, _VIDEO_EXTMAP, _VIDEO_FEEDBACK, **common)
    lines += [
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ice.ufrag}",
        f"a=ice-pwd:{ice.pwd}",
        "a=ice-options:trickle",
        f"a=fingerprint:sha-256 {fingerprint}",
        f"a=setup:{setup}",
        "a=mid:2",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
    ]
    return "\r\n".join(lines) + "\r\n"


# Type preferences of RFC 8445 (5.1.2.2): host first, then server-reflexive, then relay.
_TYPE_PREFERENCE = {"host": 126, "srflx": 100, "relay": 0}


def candidate_line(token: str, ice: IceCredentials, kind: str, index: int,
                   rng: random.Random) -> str:
    """The ``candidate:`` attribute of the ``index``-th gathered candidate, foundation ``token``.

    As Chrome writes them: one in three host candidates is TCP (``tcptype active``, port 9),
    the others UDP; reflexive and relayed ones name their base (``raddr``/``rport``).
    """
    protocol = "tcp" if kind == "host" and index % 3 == 2 else "udp"
    component_pref = 65535 - index
    priority = (_TYPE_PREFERENCE[kind] << 24) | (component_pref << 8) | 255
    port = rng.randint(49152, 65535)
    private = f"192.168.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    if kind == "host":
        where = f"{private} {port if protocol == 'udp' else 9} typ host"
        if protocol == "tcp":
            where += " tcptype active"
    elif kind == "srflx":
        where = f"203.0.113.{rng.randint(1, 254)} {port} typ srflx raddr {private} rport {port}"
    else:
        where = f"198.51.100.{rng.randint(1, 254)} {port} typ relay raddr 203.0.113.9 rport {port}"
    return (f"candidate:{token} 1 {protocol} {priority} {where} generation 0 "
            f"ufrag {ice.ufrag} network-id {1 + index % 2} network-cost 10")


def ice_candidate(line: str, ice: IceCredentials) -> str:
    """``JSON.stringify(candidate.toJSON())`` of one candidate, as rondevu's client sent it."""
    return json.dumps(
        {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": ice.ufrag},
        separators=(",", ":"),
    )
