"""Gates: what a run is expected to show, and the one sentence that says whether it did.

The checker's ``--expect``, the report and the comparison all judge here, with one syntax
(``--expect [RUN=]WORD``, the words of :mod:`analysis.verdicts`) and the same rules, so they
cannot disagree. ``RUN`` selects runs by backend, run id or folder name; without it the gate
applies to every run. A gate must never pass on missing evidence, in either direction:

* ``consistent``: the checker's verdict is ``consistent`` (no anomaly, **and** enough evidence:
  a run whose sessions were never verified, or whose requests mostly failed, is
  ``inconclusive`` and fails this gate with the checker's reason), **and** the server never
  answered 5xx (a consistent server never answers 500 to any input).
* ``lost-writes``: at least one acknowledged write lost outright (a ``lost-*`` anomaly); other
  anomalies alone do not count, or a harness that stopped seeing lost writes would still pass.
* ``anomalies``: at least one anomaly of any type, for a store whose documented misbehaviour
  under the load may show as stale or out-of-order reads rather than lost writes.
* ``lost-across-crash``: at least one write acknowledged before a kill and missing after it
  (the checker's durability count, ``analysis.checker.faults``); a run without a kill fails it,
  since nothing was shown.

Without an ``--expect``, each backend gets its own gate (``server.stores.BACKENDS``): its
``expected``, or under kills its ``expected_with_kills`` (:func:`default_expectation`).

The verdict and its reason are the checker's (``analysis.checker.evidence``), read from its JSON,
so a gate and the checker's own line can never disagree.

An expectation that selects no run is an error, not a pass: a comparison missing a store must
not pass for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from analysis.checker.evidence import found_words
from analysis.verdicts import (
    EXPECT_CONSISTENT,
    EXPECT_LOST_ACROSS_CRASH,
    EXPECT_LOST_WRITES,
    EXPECTATIONS,
    FAILED,
    INCONCLUSIVE,
    NOT_GATED,
    PASSED,
)
from analysis.wording import plural
from server.stores import BACKENDS

#: Anomaly types that are writes lost outright, as opposed to seen late or out of order.
LOST_PREFIX = "lost-"

assert {word for backend in BACKENDS.values()
        for word in (backend.expected, backend.expected_with_kills) if word} <= set(EXPECTATIONS)


class GateError(ValueError):
    """An ``--expect`` that cannot be used: a bad word, or no run it applies to."""


@dataclass(frozen=True)
class Expectation:
    """One ``--expect``: a run selector (None: every run) and the word it expects."""

    selector: str | None
    expect: str

    @classmethod
    def parse(cls, text: str) -> Expectation:
        """``WORD`` or ``RUN=WORD``; :class:`GateError` names the choices."""
        selector, equals, word = text.rpartition("=")
        if word not in EXPECTATIONS:
            raise GateError(f"--expect {text!r}: say {', '.join(EXPECTATIONS)}, optionally after "
                            "RUN= (a backend, run id or folder name: kv=anomalies)")
        if equals and not selector.strip():
            raise GateError(f"--expect {text!r}: name the run before '=', or leave '=' out "
                            "to gate every run")
        return cls(selector.strip() or None, word)

    def selects(self, entry: Mapping[str, Any]) -> bool:
        return self.selector is None or self.selector in run_names(entry)

    def __str__(self) -> str:
        return f"{self.selector}={self.expect}" if self.selector else self.expect


def run_names(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """What an expectation may call a run (one entry of the checker's JSON)."""
    return (str(entry.get("run")), Path(str(entry.get("path", ""))).name,
            str(entry.get("backend")))


def default_expectation(backend: str, kills: bool) -> str:
    """The harness's own gate for a backend (``server.stores.BACKENDS``), under a nemesis that
    kills the server or not."""
    found = BACKENDS[backend]
    return (found.expected_with_kills or found.expected) if kills else found.expected


def killed(entry: Mapping[str, Any]) -> bool:
    """Whether the run's server was killed at least once (the checker's durability count)."""
    return bool((entry.get("durability") or {}).get("kills"))


def with_defaults(explicit: Sequence[Expectation], entries: Sequence[Mapping[str, Any]]
                  ) -> list[Expectation]:
    """``explicit``, then the harness's own gate (:func:`default_expectation`) for each backend
    of a run that no explicit expectation selects."""
    unselected = [entry for entry in entries if not any(e.selects(entry) for e in explicit)]
    present: dict[str, bool] = {}
    for entry in unselected:
        name = str(entry.get("backend"))
        present[name] = present.get(name, False) or killed(entry)
    return [*explicit, *(Expectation(name, default_expectation(name, kills))
                         for name, kills in present.items() if name in BACKENDS)]


@dataclass(frozen=True)
class Evidence:
    """What one checked run offers a gate (from the checker's JSON for the run)."""

    operations: int
    verdict: str
    """The checker's verdict on the run (``analysis.verdicts.RUN_VERDICTS``)."""
    reason: str
    """The checker's one line saying why."""
    server_errors: int = 0
    anomalies: Mapping[str, int] = field(default_factory=dict)
    kills: int = 0
    """Kills the nemesis injected (the checker's ``durability``)."""
    acknowledged_before: int = 0
    """Writes acknowledged before a kill whose object was read after it."""
    lost_across: int = 0
    """Of those, writes missing after the kill: acknowledged, then lost in a crash."""

    @classmethod
    def from_run_json(cls, run: Mapping[str, Any]) -> Evidence:
        durability = run.get("durability") or {}
        return cls(
            operations=int(run.get("operations", 0)),
            verdict=str(run.get("verdict", INCONCLUSIVE)),
            reason=str(run.get("reason", "the checker gave no reason")),
            server_errors=int(run.get("server_errors", 0)),
            anomalies={kind: int(a.get("count", 0))
                       for kind, a in run.get("anomalies", {}).items()},
            kills=int(durability.get("kills", 0)),
            acknowledged_before=int(durability.get("acknowledged_before", 0)),
            lost_across=int(durability.get("lost_across", 0)),
        )

    @property
    def total(self) -> int:
        return sum(self.anomalies.values())

    @property
    def lost_writes(self) -> int:
        return sum(n for kind, n in self.anomalies.items() if kind.startswith(LOST_PREFIX))

    def found(self) -> str:
        """The kinds found, most frequent first: ``759 stale-read, 6 lost-candidate``."""
        return found_words(self.anomalies)


@dataclass(frozen=True)
class Judgement:
    passed: bool | None
    """None when no expectation applies: reported, not gated."""
    message: str


def judge(expected: str | None, evidence: Evidence) -> Judgement:
    """Hold one run's evidence against its expectation."""
    if expected is None:
        return Judgement(None, "no expectation set, so reported but not gated")
    if expected == EXPECT_CONSISTENT:
        return _judge_consistent(evidence)
    if expected == EXPECT_LOST_ACROSS_CRASH:
        return _judge_lost_across_crash(evidence)
    if expected == EXPECT_LOST_WRITES:
        if evidence.lost_writes:
            return Judgement(True, f"known to lose writes, and caught losing "
                                   f"{plural(evidence.lost_writes, 'write')}")
        if evidence.verdict == INCONCLUSIVE:
            return Judgement(False, f"known to lose writes, but the run is inconclusive: "
                                    f"{evidence.reason}")
        return Judgement(False, f"known to lose writes, but no lost write was found in "
                                f"{evidence.operations} operations (anomalies found: "
                                f"{evidence.found()}): the harness has lost its teeth")
    if evidence.total:
        return Judgement(True, f"known to misbehave, and caught: {evidence.found()}")
    if evidence.verdict == INCONCLUSIVE:
        return Judgement(False, f"known to misbehave, but the run is inconclusive: "
                                f"{evidence.reason}")
    return Judgement(False, f"known to misbehave, but no anomaly was found in "
                            f"{evidence.operations} operations: the harness has lost its teeth "
                            "(load too light or too short?)")


def _judge_lost_across_crash(evidence: Evidence) -> Judgement:
    if evidence.lost_across:
        return Judgement(True, f"known to lose writes in a crash, and caught: "
                               f"{evidence.lost_across:,} of "
                               f"{plural(evidence.acknowledged_before, 'write')} acknowledged "
                               f"before {plural(evidence.kills, 'kill')} missing after it")
    if not evidence.kills:
        return Judgement(False, "known to lose writes in a crash, but the server was never "
                                "killed (run the comparison with --nemesis kill)")
    if evidence.verdict == INCONCLUSIVE:
        return Judgement(False, f"known to lose writes in a crash, but the run is "
                                f"inconclusive: {evidence.reason}")
    return Judgement(False, f"known to lose writes in a crash, but none of "
                            f"{plural(evidence.acknowledged_before, 'write')} acknowledged "
                            f"before {plural(evidence.kills, 'kill')} went missing after it: "
                            "the harness has lost its teeth")


def _judge_consistent(evidence: Evidence) -> Judgement:
    if evidence.lost_across:
        return Judgement(False, f"expected consistent, but {evidence.lost_across:,} of "
                                f"{plural(evidence.acknowledged_before, 'write')} acknowledged "
                                f"before a kill went missing after it")
    if evidence.total:
        return Judgement(False, f"expected consistent, but "
                                f"{plural(evidence.total, 'anomaly', 'anomalies')}"
                                f" found ({evidence.found()}): a real bug or a checker false "
                                "positive; read the explanations")
    if evidence.verdict == INCONCLUSIVE:
        return Judgement(False, f"expected consistent, but the run is inconclusive: "
                                f"{evidence.reason}")
    if evidence.server_errors:
        return Judgement(False, f"expected consistent, but the server answered 5xx "
                                f"{plural(evidence.server_errors, 'time')}")
    return Judgement(True, f"expected consistent, and found consistent: {evidence.reason}")


@dataclass(frozen=True)
class Gate:
    """One expectation held against one run."""

    run: str
    store: str
    """What the report calls the run (its backend, or backend and folder when repeated)."""
    backend: str
    expect: str | None
    found: str
    passed: bool | None
    message: str

    @property
    def outcome(self) -> str:
        return NOT_GATED if self.passed is None else PASSED if self.passed else FAILED

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def gate(entry: Mapping[str, Any], expected: str | None, store: str | None = None) -> Gate:
    """The gate of one run (a checker JSON entry) under ``expected`` (None: not gated)."""
    evidence = Evidence.from_run_json(entry)
    judgement = judge(expected, evidence)
    return Gate(run=str(entry.get("run")), store=store or str(entry.get("backend")),
                backend=str(entry.get("backend")), expect=expected, found=evidence.verdict,
                passed=judgement.passed, message=judgement.message)


def evaluate(expectations: Sequence[Expectation], entries: Sequence[Mapping[str, Any]],
             stores: Sequence[str] | None = None) -> list[Gate]:
    """One gate per (expectation, run it selects), in the order the expectations were given.

    ``stores`` names each entry for the report (default: its backend). Raises
    :class:`GateError` for an expectation that selects no run.
    """
    names = list(stores) if stores is not None else [str(e.get("backend")) for e in entries]
    gates = []
    for expectation in expectations:
        chosen = [i for i, entry in enumerate(entries) if expectation.selects(entry)]
        if not chosen:
            raise GateError(f"--expect {expectation}: no run has that backend, run id or "
                            "folder name")
        gates += [gate(entries[i], expectation.expect, names[i]) for i in chosen]
    return gates


def outcome(gates: Sequence[Gate]) -> str:
    """``passed`` when there are gates and all held, ``failed`` when one did not, else
    ``not gated``: no gates is never a pass."""
    if not any(g.passed is not None for g in gates):
        return NOT_GATED
    return FAILED if any(g.passed is False for g in gates) else PASSED
