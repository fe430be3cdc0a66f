"""What a person using the store would have felt, computed from a run's history records.

Lost writes are one half of a store's story; the other is whether calls got through at all. From
the same records the checker reads (docs/history.md), this module counts:

- **handshakes**: one is *started* by every offer a client tried to post (a create of any
  outcome), except acknowledged offers for which no ICE candidate was ever sent (the answer race
  posts answers only: it tests the write-once answer, not a call). One is *completed* when the
  offerer received the answer and at least one remote candidate, and the answerer whose answer
  it received got the offer and at least one remote candidate too, each in a poll under load;
  its time runs from the offer's invocation to the later of those two polls' completion (on one
  host only: monotonic clocks compare nowhere else);
- **writes refused by the store**, grouped by reason (status and error), a 409 to a second,
  different answer excepted: that is the protocol working, counted on its own;
- **operations with no response**, whose outcome is unknown, grouped by what the client saw.

Everything is counted under load: final reads, and reads while the store settled, are not what a
user would have waited for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from analysis.checker.model import peer
from analysis.history import NO_RESPONSE, PROTOCOL, REFUSED, WRITES, Record, after_load, outcome
from analysis.stats import NS_PER_MS


@dataclass
class Handshakes:
    started: int = 0
    completed: int = 0
    durations_ms: list[float] = field(default_factory=list)
    """Time to complete, of the completed handshakes whose records share one host."""


@dataclass
class Availability:
    """A run's calls and refusals, as the first screen of the report shows them."""

    handshakes: Handshakes
    under_load: int
    refused_writes: list[tuple[str, int]]
    """(reason, count), most frequent first."""
    no_response: list[tuple[str, int]]
    """(what the client saw, count), most frequent first."""
    protocol_refusals: int
    """409s to a second, different answer: the write-once answer working."""

    @property
    def refused_total(self) -> int:
        return sum(n for _reason, n in self.refused_writes)

    @property
    def no_response_total(self) -> int:
        return sum(n for _reason, n in self.no_response)


def availability(records: Iterable[Record]) -> Availability:
    """Count a run's handshakes, refusals and operations without a response."""
    live = [record for record in records if not after_load(record)]
    refused: Counter[str] = Counter()
    silent: Counter[str] = Counter()
    protocol = 0
    for record in live:
        ended = outcome(record)
        if ended == PROTOCOL:
            protocol += 1
        elif ended == REFUSED and record.op in WRITES:
            refused[f"{record.error or 'no reason given'} (HTTP {record.status})"] += 1
        elif ended == NO_RESPONSE:
            silent[str(record.error or "no response")] += 1
    return Availability(handshakes=handshakes(live), under_load=len(live),
                        refused_writes=refused.most_common(), no_response=silent.most_common(),
                        protocol_refusals=protocol)


def handshakes(live: list[Record]) -> Handshakes:
    """Handshakes started and completed among records made under load (module docstring)."""
    found = Handshakes()
    sessions: dict[str, list[Record]] = {}
    for record in live:
        if record.op == "create" and record.type != "ok":
            found.started += 1  # an offer that never got a session: a call that failed at once
        elif record.session is not None:
            sessions.setdefault(record.session, []).append(record)
    for session in sessions.values():
        creates = [r for r in session if r.op == "create" and r.type == "ok"]
        if not creates or not any(r.op == "candidate" for r in session):
            continue
        found.started += 1
        ended = _completion(creates[0], session)
        if ended is not None:
            found.completed += 1
            if ended[1]:
                found.durations_ms.append(ended[0])
    return found


def _completion(create: Record, session: list[Record]) -> tuple[float, bool] | None:
    """When both peers of the session had what they need: (ms since the offer, whether the
    time is measurable, i.e. all on one host); None if they never did."""
    offerer = peer(create.client)
    polls = sorted((r for r in session if r.op == "poll" and r.type == "ok"),
                   key=lambda r: r.t1)
    offerer_done = next((r for r in polls if r.side == "offerer"
                         and peer(r.client) == offerer
                         and r.read.answer is not None and r.read.candidates),
                        None)
    if offerer_done is None:
        return None
    answer = offerer_done.read.answer
    writers = {peer(r.client) for r in session
               if r.op == "answer" and r.value == answer}
    answerer_done = next((r for r in polls if r.side == "answerer"
                          and peer(r.client) in writers
                          and r.read.offer is not None and r.read.candidates),
                         None)
    if answerer_done is None:
        return None
    last = max(offerer_done.t1, answerer_done.t1)
    one_host = len({create.host, offerer_done.host, answerer_done.host}) == 1
    return (last - create.t0) / NS_PER_MS, one_host
