"""The comparison's verdict, gates and tables as plain data: what every report format says.

``summary.json`` is this data as it is; ``summary.md`` and ``report.html`` are renderings of it
(``analysis.report_render``), so the three cannot disagree. The gates encode what makes the
harness trustworthy (ANOMALIES.md, "What a report says"): a store that claims consistency must be
found consistent, and a baseline known to lose writes must be caught doing so, or the harness has
lost its teeth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from analysis import stats
from analysis.campaign import Campaign, Run
from analysis.gates import (
    CONSISTENT,
    DEFAULT_EXPECTATIONS,
    Evidence,
    judge as judge_evidence,
    parse_expectation,
)
from analysis.stores import describe, latency_kind
from analysis.timeline import describe_op, lane_names

FORMAT = 1

#: What each anomaly means for a user (ANOMALIES.md); types not listed are still reported.
MEANINGS = {
    "lost-candidate": "an acknowledged candidate is missing from the final read of its side: "
                      "a peer never learns a path, and the call may never connect",
    "lost-answer": "an acknowledged answer is not the final answer (overwritten, or the field "
                   "back to null): an update wrote back a stale copy of the session",
    "conflicting-answers": "two different answers were both acknowledged for one session: two "
                           "answerers each believe they are connected to the same offer",
    "stale-read": "a poll that began after a write was acknowledged did not show it (a later one "
                  "did): a peer misses data that was already confirmed",
    "non-monotonic-read": "a poll showed less than an earlier, completed poll: data flickers in "
                          "and out for a polling peer",
    "incompatible-order": "two reads of one candidate list where neither is a prefix of the "
                          "other, or a list ordered against real time: peers disagree on "
                          "candidate order",
    "duplicate": "one token twice in one read: a candidate applied twice",
    "phantom": "a read holds a value nobody wrote, or whose write certainly failed",
    "lost-session": "a session whose create was acknowledged answered 404 before its expiry: an "
                    "offer vanished",
    "monotonic-writes": "a poll showed a peer's later candidate without its earlier one: a "
                        "peer receives candidates out of the order they were sent",
    "cross-object-read": "one poll showed candidates from a peer whose answer, written first, "
                         "read null: a peer sees candidates for an answer it does not have",
}


class ExpectationError(ValueError):
    """An ``--expect`` value that cannot be used; the message says how to write it."""


def parse_expectations(items: Iterable[str],
                       defaults: Mapping[str, str] = DEFAULT_EXPECTATIONS) -> dict[str, str]:
    """The defaults overridden by ``BACKEND=consistent|lost-writes|anomalies`` (``--expect``).

    BACKEND may also be a run id or a run folder's name, as for the checker's own gates.
    """
    expected = dict(defaults)
    for item in items:
        try:
            backend, value = parse_expectation(item)
        except ValueError as error:
            raise ExpectationError(str(error)) from None
        if backend is None:
            raise ExpectationError(f"--expect {item!r}: name the store, e.g. kv=anomalies")
        expected[backend] = value
    return expected


@dataclass(frozen=True)
class Gate:
    """One store's expectation held against what the checker found; ``passed`` is None for a
    store with no expectation (reported, not gated)."""

    store: str
    expected: str | None
    found: str
    anomalies: int
    passed: bool | None
    message: str


def judge(store: str, expected: str | None, evidence: Evidence) -> Gate:
    """The gate for one store (the rules and sentences are :mod:`analysis.gates`')."""
    judgement = judge_evidence(expected, evidence)
    found = "anomalies" if evidence.total else CONSISTENT
    return Gate(store, expected, found, evidence.total, judgement.passed, judgement.message)


def _percentile_points(values: Sequence[float]) -> dict[str, float | None] | None:
    if not values:
        return None
    points = stats.percentiles(values, stats.TABLE_PERCENTILES)
    return {f"p{p:g}": v for p, v in zip(stats.TABLE_PERCENTILES, points)}


def _example(example: Mapping[str, Any]) -> dict[str, Any]:
    """A checker example with its proving operations as rows a person can check by hand."""
    ops = list(example.get("ops", []))
    origin = min((int(op["t0"]) for op in ops), default=0)
    lanes = lane_names(str(op.get("client")) for op in ops)
    rows = [{"where": f"{op.get('file', '?')}:{op.get('line', '?')}",
             "client": lanes[str(op.get("client"))],
             "start_ms": (int(op["t0"]) - origin) / stats.NS_PER_MS,
             "end_ms": (int(op["t1"]) - origin) / stats.NS_PER_MS,
             "what": describe_op(op)} for op in ops]
    return {"type": example.get("type"), "session": example.get("session"),
            "explanation": example.get("explanation", ""), "ops": rows}


def store_summary(run: Run, expectations: Mapping[str, str]) -> dict[str, Any]:
    """Everything the report says about one run."""
    check = run.check
    anomalies = {kind: {"count": int(a.get("count", 0)), "sessions": int(a.get("sessions", 0))}
                 for kind, a in check.get("anomalies", {}).items()}
    evidence = Evidence.from_run_json(check)
    total = evidence.total
    operations = int(check.get("operations", len(run.records)))
    names = (run.meta.get("run"), run.path.name, run.label, run.backend)  # most specific first
    expected = next((expectations[name] for name in names if name in expectations), None)
    span = stats.span_s(run.records)
    latencies = stats.latencies(run.records)
    under_load = sum(v.operations for v in latencies.values())
    return {
        "store": run.label, "backend": run.backend, "run": check.get("run", run.meta.get("run")),
        "path": str(run.path), "target": run.meta.get("target"),
        "description": describe(run.backend, run.meta.get("target")),
        "latency": latency_kind(run.backend),
        "verdict": check.get("verdict", "anomalies found" if total else CONSISTENT),
        "gate": asdict(judge(run.label, expected, evidence)),
        "operations": operations, "sessions": check.get("sessions"),
        "unverifiable": check.get("unverifiable"),
        "duration_s": span,
        "throughput_ops_s": under_load / span if span else None,
        "ops": {op: {"ok": v.ok, "fail": v.fail, "info": v.info,
                     "client_ms": _percentile_points(v.client_ms),
                     "server_ms": _percentile_points(v.server_ms)}
                for op, v in latencies.items()},
        "anomalies": anomalies, "anomaly_total": total,
        "lost_writes": evidence.lost_writes,
        "examples": [_example(example) for a in check.get("anomalies", {}).values()
                     for example in a.get("examples", [])],
        "lag_ms": check.get("lag_ms", {}),
        "notes": list(check.get("notes", [])),
        "meta": run.meta,
    }


def build_summary(campaign: Campaign, expectations: Mapping[str, str],
                  plots: Sequence[Mapping[str, str]] = (),
                  time_scale: float = 1.0) -> dict[str, Any]:
    """The whole report as data (``summary.json``); ``plots`` lists the figures' files."""
    stores = [store_summary(run, expectations) for run in campaign.runs]
    gated = [s["gate"]["passed"] for s in stores if s["gate"]["passed"] is not None]
    return {
        "format": FORMAT,
        "campaign": str(campaign.path),
        "verdict": "pass" if all(gated) else "fail",
        "check_source": campaign.check_source,
        "time_scale": time_scale,
        "gates": [s["gate"] for s in stores],
        "stores": stores,
        "meanings": {kind: MEANINGS.get(kind, "see docs/checker.md")
                     for s in stores for kind in s["anomalies"]},
        "plots": list(plots),
    }
