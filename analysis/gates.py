"""What CI demands of each run, and the one sentence that says whether it got it.

Both the checker's ``--expect`` and the report's gates judge here, so they cannot disagree. A
gate must never pass on missing evidence, in either direction:

* ``consistent``: no anomaly, **and** most sessions were verified after settling (a run whose
  final reads never happened, or whose sessions were never created, proves nothing), **and** the
  server never answered 5xx (API.md: no input makes a consistent server answer 500).
* ``lost-writes``: at least one acknowledged write lost outright (a ``lost-*`` anomaly); other
  anomalies alone do not count, or a harness that stopped seeing lost writes would still pass.
* ``anomalies``: at least one anomaly of any type, for a store whose documented misbehaviour
  under the load may show as stale or out-of-order reads rather than lost writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONSISTENT, ANOMALIES, LOST_WRITES = "consistent", "anomalies", "lost-writes"
EXPECTATIONS = (CONSISTENT, ANOMALIES, LOST_WRITES)
DEFAULT_EXPECTATIONS = {"sqlite": CONSISTENT, "rmw": LOST_WRITES, "kv": ANOMALIES}

#: Anomaly types that are writes lost outright, as opposed to seen late or out of order.
LOST_PREFIX = "lost-"
#: A consistency claim needs at least this share of sessions verified after settling.
MIN_VERIFIED_SHARE = 0.5


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 anomaly``, ``2 anomalies``: counts in sentences a person reads."""
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


@dataclass(frozen=True)
class Evidence:
    """What one checked run offers a gate (from the checker's JSON for the run)."""

    operations: int
    sessions: int
    unverifiable: int
    server_errors: int
    anomalies: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_run_json(cls, run: Mapping[str, Any]) -> Evidence:
        return cls(
            operations=int(run.get("operations", 0)),
            sessions=int(run.get("sessions", 0)),
            unverifiable=int(run.get("unverifiable", 0)),
            server_errors=int(run.get("server_errors", 0)),
            anomalies={kind: int(a.get("count", 0))
                       for kind, a in run.get("anomalies", {}).items()},
        )

    @property
    def total(self) -> int:
        return sum(self.anomalies.values())

    @property
    def lost_writes(self) -> int:
        return sum(n for kind, n in self.anomalies.items() if kind.startswith(LOST_PREFIX))

    @property
    def verified(self) -> int:
        return self.sessions - self.unverifiable

    def found(self) -> str:
        """The kinds found, most frequent first: ``759 stale-read, 6 lost-candidate``."""
        kinds = sorted(((n, k) for k, n in self.anomalies.items() if n), reverse=True)
        return ", ".join(f"{n} {k}" for n, k in kinds) or "none"


@dataclass(frozen=True)
class Judgement:
    passed: bool | None
    """None when no expectation applies: reported, not gated."""
    message: str


def judge(expected: str | None, evidence: Evidence) -> Judgement:
    """Hold one run's evidence against its expectation."""
    if expected is None:
        return Judgement(None, "no expectation set, so reported but not gated")
    if expected == CONSISTENT:
        return _judge_consistent(evidence)
    if expected == LOST_WRITES:
        if evidence.lost_writes:
            return Judgement(True, f"known to lose writes, and caught losing "
                                   f"{plural(evidence.lost_writes, 'write')}")
        return Judgement(False, f"known to lose writes, but no lost write was found in "
                                f"{evidence.operations} operations (anomalies found: "
                                f"{evidence.found()}): the harness has lost its teeth")
    if evidence.total:
        return Judgement(True, f"known to misbehave, and caught: {evidence.found()}")
    return Judgement(False, f"known to misbehave, but no anomaly was found in "
                            f"{evidence.operations} operations: the harness has lost its teeth "
                            "(load too light or too short?)")


def _judge_consistent(evidence: Evidence) -> Judgement:
    if evidence.total:
        return Judgement(False, f"expected consistent, but {plural(evidence.total, 'anomaly', 'anomalies')}"
                                f" found ({evidence.found()}): a real bug or a checker false "
                                "positive; read the explanations")
    if evidence.server_errors:
        return Judgement(False, f"expected consistent, but the server answered 5xx "
                                f"{plural(evidence.server_errors, 'time')}")
    if not evidence.sessions or evidence.verified < MIN_VERIFIED_SHARE * evidence.sessions:
        return Judgement(False, f"expected consistent, but only {evidence.verified} of "
                                f"{evidence.sessions} sessions could be verified after settling "
                                f"(at least {MIN_VERIFIED_SHARE:.0%} needed): too little "
                                "evidence to call it consistent")
    return Judgement(True, f"expected consistent, and found consistent: no anomaly in "
                           f"{evidence.operations} operations, {evidence.verified} of "
                           f"{evidence.sessions} sessions verified after settling")


def parse_expectation(text: str) -> tuple[str | None, str]:
    """``WORD`` or ``SELECTOR=WORD`` -> (selector or None, word); ValueError names the choices."""
    selector, _, word = text.rpartition("=")
    if word not in EXPECTATIONS:
        raise ValueError(f"--expect {text!r}: say {', '.join(EXPECTATIONS)}, optionally after "
                         "BACKEND= (e.g. kv=anomalies, rmw=lost-writes)")
    return selector.strip() or None, word
