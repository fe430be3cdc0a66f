"""What a check finds: per anomaly type a count, the sessions affected and the first proofs.

Kept apart from the rules so that the rules only say *what* they found; counting, keeping the
first few examples (with the records that prove them, each with its file and line) and the JSON
shape that the report generator reads live here, in one place (``docs/checker.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.checker.evidence import DEFAULT_MIN_VERIFIED, Coverage, verdict
from analysis.verdicts import combined

JSON_FORMAT = 1
EXAMPLES_KEPT = 5
"""Examples kept per type (per cause, for the types classified by cause)."""

# Every type the checker reports, in the order the summary prints them. The first nine are
# docs/checker.md's table; the last two are the per-client guarantees reported on their own.
ANOMALY_TYPES = (
    "lost-candidate",
    "lost-answer",
    "conflicting-answers",
    "stale-read",
    "non-monotonic-read",
    "incompatible-order",
    "duplicate",
    "phantom",
    "lost-session",
    "monotonic-writes",
    "cross-object-read",
)


ERASED = "erased"
OVERWRITTEN = "overwritten"
CAUSES = (ERASED, OVERWRITTEN)
"""Why an acknowledged answer was lost (``analysis.checker.causes``): the session ended without
it and without another answer taking its place, or another answer replaced it."""

UNKNOWN_ERASER = "unknown"
ERASERS = ("offerer-candidate", "answerer-candidate", UNKNOWN_ERASER)
"""What carried an erased answer's erasure: an ICE candidate update of either side (the culprit
write), or no acknowledged write the checker can name."""

CAUSED = {"lost-answer": CAUSES}
"""The anomaly types whose findings are classified by cause, with their causes."""

LOST_ACROSS_CRASH = "lost-across-crash"
"""What the durability count's examples are called: a write acknowledged before a kill and
missing after it. Counted on its own line (``durability``), not among the anomaly types, since
the same write is often also a ``lost-*`` anomaly."""


@dataclass
class Tally:
    """One anomaly type's findings in one run."""

    count: int = 0
    sessions: set[str] = field(default_factory=set)
    examples: list[dict[str, Any]] = field(default_factory=list)
    by_cause: dict[str, int] = field(default_factory=dict)
    """Findings per cause, for the types in :data:`CAUSED`."""
    erased_by: dict[str, int] = field(default_factory=dict)
    """Erased findings per :data:`ERASERS` entry."""

    def kept(self, cause: str | None) -> int:
        """Examples kept so far (of ``cause``: each cause keeps its own first few)."""
        return sum(1 for example in self.examples if example.get("cause") == cause)


@dataclass
class Durability:
    """The durability count of one run (``analysis.checker.faults``): writes acknowledged before
    a kill of the server and missing after it."""

    kills: int = 0
    acknowledged_before: int = 0
    """Acknowledged writes with a kill after them whose object was read after that kill (the
    writes the rule could decide), each counted once."""
    lost_across: int = 0
    """Of those, the writes that every read after a kill lacked."""
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"kills": self.kills, "acknowledged_before": self.acknowledged_before,
                "lost_across": self.lost_across, "examples": self.examples}


@dataclass
class RunResult:
    """The outcome of checking one run; ``to_json`` turns it into the documented shape."""

    name: str
    path: str
    backend: str
    meta: dict[str, Any]
    operations: int = 0
    sessions: int = 0
    unverifiable: int = 0
    server_errors: int = 0
    """Responses with a 5xx status: never anomalies (the outcome is unknown), but a store that
    claims consistency must not give any (``analysis.gates``)."""
    coverage: Coverage = field(default_factory=Coverage)
    min_verified: float = DEFAULT_MIN_VERIFIED
    """Share of the sessions with an acknowledged write that must be verified to call the run
    consistent (``--min-verified``)."""
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {kind: _tally(kind) for kind in ANOMALY_TYPES}
    )
    lag_ms: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    """The faults injected (``analysis.checker.faults.faults_json``)."""
    durability: Durability = field(default_factory=Durability)

    @property
    def anomaly_count(self) -> int:
        return sum(tally.count for tally in self.tallies.values())

    @property
    def counts(self) -> dict[str, int]:
        return {kind: tally.count for kind, tally in self.tallies.items()}

    def judged(self) -> tuple[str, str]:
        """The verdict and the one line that says why (``analysis.checker.evidence``)."""
        return verdict(self.counts, self.coverage, self.operations, self.min_verified,
                       self.durability)

    @property
    def verdict(self) -> str:
        return self.judged()[0]

    @property
    def reason(self) -> str:
        return self.judged()[1]


def _tally(kind: str) -> Tally:
    """An empty tally, its causes at zero for the types classified by cause."""
    if kind not in CAUSED:
        return Tally()
    return Tally(by_cause=dict.fromkeys(CAUSED[kind], 0), erased_by=dict.fromkeys(ERASERS, 0))


class Findings:
    """Collects anomalies while a run is checked; builds explanations only for kept examples."""

    def __init__(self, result: RunResult, record_json: Callable[[int], dict[str, Any]]) -> None:
        self.result = result
        self._record_json = record_json

    def add(
        self,
        kind: str,
        session: str,
        ops: Sequence[int],
        explain: Callable[[], str],
        times: int = 1,
        cause: Cause | None = None,
    ) -> None:
        """Count ``times`` anomalies of ``kind`` in ``session``, proven by records ``ops``.

        ``cause`` classifies a finding of a type in :data:`CAUSED`; its culprit, if any, is
        one of ``ops`` and is named in the example by its file and line.
        """
        tally = self.result.tallies[kind]
        tally.count += times
        tally.sessions.add(session)
        if cause is not None:
            tally.by_cause[cause.cause] += times
            if cause.cause == ERASED:
                tally.erased_by[cause.eraser] += times
        if (len(tally.examples) if cause is None else tally.kept(cause.cause)) < EXAMPLES_KEPT:
            unique_ops = list(dict.fromkeys(ops))
            example: dict[str, Any] = {
                "type": kind,
                "session": session,
                "explanation": explain(),
                "ops": [self._record_json(index) for index in unique_ops],
            }
            if cause is not None:
                culprit = None
                if cause.culprit is not None:
                    cited = self._record_json(cause.culprit)
                    culprit = {"file": cited["file"], "line": cited["line"]}
                example.update(cause=cause.cause, culprit=culprit)
            tally.examples.append(example)

    def lost_across(self, session: str, ops: Sequence[int], explain: Callable[[], str],
                    fault: dict[str, Any]) -> None:
        """Count one write lost across the kill ``fault`` (its record, with file and line),
        proven by records ``ops``."""
        durability = self.result.durability
        durability.lost_across += 1
        if len(durability.examples) < EXAMPLES_KEPT:
            durability.examples.append({
                "type": LOST_ACROSS_CRASH, "session": session, "explanation": explain(),
                "fault": {"kind": fault["kind"], "file": fault["file"], "line": fault["line"]},
                "ops": [self._record_json(index) for index in dict.fromkeys(ops)],
            })


@dataclass(frozen=True)
class Cause:
    """Why one finding happened (``analysis.checker.causes``): one of the type's
    :data:`CAUSED` causes, the record index of the write that carried it (None when no write
    can be named), and for an erased answer which :data:`ERASERS` entry that write is."""

    cause: str
    culprit: int | None = None
    eraser: str = UNKNOWN_ERASER


def run_to_json(result: RunResult) -> dict[str, Any]:
    """One run in the ``--json`` shape (``docs/checker.md``)."""
    found, reason = result.judged()
    return {
        "run": result.name,
        "path": result.path,
        "backend": result.backend,
        "meta": result.meta,
        "operations": result.operations,
        "sessions": result.sessions,
        "unverifiable": result.unverifiable,
        "server_errors": result.server_errors,
        "coverage": result.coverage.as_json(),
        "min_verified": result.min_verified,
        "verdict": found,
        "reason": reason,
        "anomalies": {kind: _tally_json(kind, tally) for kind, tally in result.tallies.items()},
        "lag_ms": result.lag_ms,
        "notes": result.notes,
        "faults": result.faults,
        "durability": result.durability.as_json(),
    }


def _tally_json(kind: str, tally: Tally) -> dict[str, Any]:
    found: dict[str, Any] = {"count": tally.count, "sessions": len(tally.sessions)}
    if kind in CAUSED:
        found.update(by_cause=dict(tally.by_cause), erased_by=dict(tally.erased_by))
    found["examples"] = tally.examples
    return found


def to_json(runs: Sequence[dict[str, Any]], gates: Sequence[dict[str, Any]] = ()
            ) -> dict[str, Any]:
    """The whole ``--json`` document: the runs (each :func:`run_to_json`) and their gates."""
    return {
        "format": JSON_FORMAT,
        "verdict": combined(run["verdict"] for run in runs),
        "gates": list(gates),
        "runs": list(runs),
    }
