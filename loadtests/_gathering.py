"""How a browser gathers its ICE candidates: which kinds, how many of each, and when each turns up.

Gathering starts when the peer sets its local description (the offerer's offer, the answerer's
answer) and runs for each kind of candidate at its own pace (``docs/loadtests.md`` gives the
sources of every figure):

- **host** candidates at once: one per local address and transport, found without asking anyone;
- **server-reflexive** (``srflx``) candidates after one round trip to a STUN server;
- **relay** candidates after a TURN allocation (a challenge and an authenticated request, so at
  least two round trips to the TURN server): hundreds of milliseconds to a few seconds, so some
  of the offerer's arrive after the answer.

Gathering is complete (the browser's end-of-candidates, a ``null`` candidate that rondevu's
client never forwarded) with its last candidate, well inside the five seconds after which
rondevu's ``waitForIceGathering`` stopped waiting. Times here are model milliseconds; callers
scale them with ``--time-scale``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from loadtests._sdp import IceCredentials, candidate_line, ice_candidate
from loadtests._tokens import TokenSource

KINDS = ("host", "srflx", "relay")
"""In gathering order; ``--candidates`` names them."""

COUNTS: dict[str, tuple[int, int]] = {"host": (2, 4), "srflx": (1, 2), "relay": (1, 3)}
"""Candidates of each kind per peer, drawn per session (the default of ``--candidates``)."""

DELAY_MS: dict[str, tuple[float, float]] = {
    "host": (0.0, 50.0),
    "srflx": (30.0, 400.0),
    "relay": (150.0, 2500.0),
}
"""When each kind turns up after gathering starts, model ms, drawn uniformly per candidate."""

@dataclass(frozen=True)
class Gathered:
    """One candidate: its kind, when it was gathered (wall seconds after gathering started),
    its token (the foundation), its ``a=candidate`` line and the JSON a trickling client sends."""

    kind: str
    at_s: float
    token: str
    line: str
    value: str


def gather(counts: Mapping[str, tuple[int, int]], ice: IceCredentials, tokens: TokenSource,
           rng: random.Random, time_scale: float) -> list[Gathered]:
    """One peer's candidates in the order they are gathered."""
    found = []
    index = 0
    for kind in KINDS:
        low, high = DELAY_MS[kind]
        for _ in range(rng.randint(*counts[kind])):
            token = tokens.next()
            line = candidate_line(token, ice, kind, index, rng)
            at_s = rng.uniform(low, high) / 1000.0 * time_scale
            found.append(Gathered(kind, at_s, token, line, ice_candidate(line, ice)))
            index += 1
    return sorted(found, key=lambda candidate: candidate.at_s)


def complete_s(gathered: list[Gathered]) -> float:
    """Wall seconds from the start of gathering until it is complete: the last candidate."""
    return max((candidate.at_s for candidate in gathered), default=0.0)
