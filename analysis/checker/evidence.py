"""How much a run shows, and the verdict it earns: ``consistent`` only on evidence.

A checker that finds nothing in a history of failed requests has proven nothing, so a run with no
anomaly is *inconclusive* (docs/checker.md) when

- no session with an acknowledged write could be verified after settling, or fewer than
  ``min_verified`` of them (``--min-verified``, default :data:`DEFAULT_MIN_VERIFIED`); or
- more than half of the operations under load failed or got no response (a 409 to a second,
  different answer is the protocol working and counts as answered).

A proven anomaly wins over too little evidence: a proof is a proof, and so is a write acknowledged
before a kill of the server and missing after it (``analysis.checker.faults``): such a run has
``anomalies found`` whatever else it shows. The verdict comes with one
line saying why, in the words a person reads ("0 of 53 sessions could be verified: 4,114 of
4,114 requests got no response"); the terminal, the JSON and the report all print that line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from analysis.history import NO_RESPONSE, REFUSED, Record, after_load, outcome
from analysis.verdicts import ANOMALIES_FOUND, CONSISTENT, INCONCLUSIVE
from analysis.wording import plural

if TYPE_CHECKING:
    from analysis.checker.result import Durability

DEFAULT_MIN_VERIFIED = 0.5
MOST_FAILED = 0.5
"""A run whose operations under load failed or got no response more often than this share is
inconclusive: what little was answered says nothing about the store under that load."""


@dataclass
class Coverage:
    """What one run offers as evidence, counted while it is checked."""

    under_load: int = 0
    """Operations made under load (final reads and reads while settling are not)."""
    refused: int = 0
    """Of those, answered with an error status (not a 409 to a second answer)."""
    server_errors: int = 0
    """Of the refused, answered 5xx."""
    no_response: int = 0
    """Of those, with no response at all (timeout, connection refused, interrupted)."""
    written: int = 0
    """Sessions with an acknowledged create, answer or candidate."""
    verified: int = 0
    """Of those, sessions whose lost writes could be decided (not left, read after settling)."""
    left: int = 0
    """Of the written sessions not verified, those that were left."""

    def count(self, record: Record) -> None:
        """Count one record's outcome, if it was made under load."""
        if after_load(record):
            return
        self.under_load += 1
        ended = outcome(record)
        if ended == NO_RESPONSE:
            self.no_response += 1
        elif ended == REFUSED:
            self.refused += 1
            if record.status >= 500:
                self.server_errors += 1

    @property
    def failed(self) -> int:
        return self.refused + self.no_response

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def found_words(counts: Mapping[str, int]) -> str:
    """The anomaly types found, most frequent first: ``759 stale-read, 6 lost-candidate``."""
    kinds = sorted(((n, kind) for kind, n in counts.items() if n), key=lambda p: (-p[0], p[1]))
    return ", ".join(f"{n:,} {kind}" for n, kind in kinds) or "none"


def verdict(counts: Mapping[str, int], coverage: Coverage, operations: int,
            min_verified: float, durability: Durability | None = None) -> tuple[str, str]:
    """The run's verdict and the one line that says why.

    ``counts`` are the anomalies per type, ``operations`` every record checked, ``durability``
    the writes lost across kills, if the server was killed.
    """
    anomalies = sum(counts.values())
    crash = durability_words(durability)
    if durability is not None and durability.lost_across:
        proven = (f"; {plural(anomalies, 'anomaly', 'anomalies')} proven: "
                  f"{found_words(counts)}" if anomalies else "")
        return ANOMALIES_FOUND, crash + proven
    if anomalies:
        return ANOMALIES_FOUND, (f"{plural(anomalies, 'anomaly', 'anomalies')} "
                                 f"proven: {found_words(counts)}"
                                 + (f"; {crash}" if crash else ""))
    sessions = _sessions_words(coverage)
    too_few = (coverage.verified == 0
               or coverage.verified < min_verified * coverage.written)
    failing = coverage.under_load and coverage.failed > MOST_FAILED * coverage.under_load
    if failing:
        joint = ": " if too_few else ", but "
        return INCONCLUSIVE, sessions + joint + _failures_words(coverage)
    if too_few:
        needed = f" (at least {min_verified:.0%} needed)" if coverage.written else ""
        return INCONCLUSIVE, f"{sessions}{needed}: {_unverified_words(coverage)}"
    return CONSISTENT, (f"no anomaly in {operations:,} operations; {coverage.verified:,} of "
                        f"{coverage.written:,} sessions with an acknowledged write verified "
                        "after settling" + (f"; {crash}" if crash else ""))


def durability_words(durability: Durability | None) -> str:
    """``3 of 812 writes acknowledged before 2 kills lost across them`` (``none lost``), or
    nothing when the server was never killed."""
    if durability is None or not durability.kills:
        return ""
    writes = (f"{plural(durability.acknowledged_before, 'write')} acknowledged before "
              f"{plural(durability.kills, 'kill')}")
    if not durability.lost_across:
        return f"none of {writes} lost"
    return f"{durability.lost_across:,} of {writes} lost across a kill"


def _sessions_words(coverage: Coverage) -> str:
    if not coverage.written:
        return "no session could be verified"
    return f"{coverage.verified:,} of {coverage.written:,} sessions could be verified"


def _failures_words(coverage: Coverage) -> str:
    """``4,114 of 4,114 requests got no response``, or each way they failed."""
    client_errors = coverage.refused - coverage.server_errors
    parts = [(coverage.no_response, "got no response"),
             (coverage.server_errors, "were answered 5xx"),
             (client_errors, "were refused with a 4xx")]
    parts = [(n, words) for n, words in parts if n]
    total = f"of {coverage.under_load:,} requests"
    if len(parts) == 1:
        return f"{parts[0][0]:,} {total} {parts[0][1]}"
    return (f"{coverage.failed:,} {total} failed ("
            + ", ".join(f"{n:,} {words}" for n, words in parts) + ")")


def _unverified_words(coverage: Coverage) -> str:
    """Why sessions were not verified: left before the final reads, or never read after."""
    if not coverage.under_load:
        return "no operation was recorded under load"
    if not coverage.written:
        return "no create, answer or candidate was acknowledged"
    unread = coverage.written - coverage.verified - coverage.left
    parts = [(coverage.left, "left before the final reads"),
             (unread, "not read after settling (no final read answered)")]
    return "; ".join(f"{n:,} {'was' if n == 1 else 'were'} {words}" for n, words in parts if n)
