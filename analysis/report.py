"""The comparison's verdict, gates and tables as plain data: what every report format says.

``summary.json`` is this data as it is; ``summary.md`` and ``report.html`` are renderings of it
(``analysis.report_render``), so the three cannot disagree. The gates encode what makes the
harness trustworthy (docs/checker.md, "What a report says"): a store that claims consistency must be
found consistent, and a baseline known to lose writes must be caught doing so, or the harness has
lost its teeth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analysis import stats
from analysis.campaign import Campaign, Run
from analysis.checker.result import UNKNOWN_ERASER
from analysis.gates import Evidence, Expectation, Gate, evaluate, gate, outcome
from analysis.stores import describe, latency_kind
from analysis.timeline import ERASURE_TIMELINE, describe_op, lane_names

FORMAT = 1

#: What each anomaly means for a user (docs/checker.md); types not listed are still reported.
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


def _percentile_points(values: Sequence[float]) -> dict[str, float | None] | None:
    if not values:
        return None
    points = stats.percentiles(values, stats.TABLE_PERCENTILES)
    return {f"p{p:g}": v for p, v in zip(stats.TABLE_PERCENTILES, points)}


def _example(example: Mapping[str, Any]) -> dict[str, Any]:
    """A checker example with its proving operations as rows a person can check by hand."""
    ops = list(example.get("ops", []))
    origins: dict[Any, int] = {}  # monotonic times compare only within one host
    for op in ops:
        origins[op.get("host")] = min(origins.get(op.get("host"), int(op["t0"])), int(op["t0"]))
    lanes = lane_names(str(op.get("client")) for op in ops)
    culprit = example.get("culprit") or {}
    rows = [{"where": f"{op.get('file', '?')}:{op.get('line', '?')}",
             "client": lanes[str(op.get("client"))],
             "start_ms": (int(op["t0"]) - origins[op.get("host")]) / stats.NS_PER_MS,
             "end_ms": (int(op["t1"]) - origins[op.get("host")]) / stats.NS_PER_MS,
             "what": ("culprit: " if (op.get("file"), op.get("line"))
                      == (culprit.get("file"), culprit.get("line")) else "") + describe_op(op)}
            for op in ops]
    return {"type": example.get("type"), "session": example.get("session"),
            "explanation": example.get("explanation", ""), "ops": rows}


def answers_erased(check: Mapping[str, Any]) -> int:
    """Acknowledged answers a stale ICE candidate update erased (the checker named the
    candidate write that carried it): the seed's failure, in the seed's own terms."""
    erased_by = check.get("anomalies", {}).get("lost-answer", {}).get("erased_by", {})
    return sum(n for eraser, n in erased_by.items() if eraser != UNKNOWN_ERASER)


def store_summary(run: Run, run_gate: Gate) -> dict[str, Any]:
    """Everything the report says about one run, under its gate."""
    check = run.check
    anomalies = {kind: {"count": int(a.get("count", 0)), "sessions": int(a.get("sessions", 0))}
                 for kind, a in check.get("anomalies", {}).items()}
    evidence = Evidence.from_run_json(check)
    total = evidence.total
    operations = int(check.get("operations", len(run.records)))
    span = stats.span_s(run.records)
    latencies = stats.latencies(run.records)
    under_load = sum(v.operations for v in latencies.values())
    return {
        "store": run.label, "backend": run.backend, "run": check.get("run", run.meta.get("run")),
        "path": str(run.path), "target": run.meta.get("target"),
        "description": describe(run.backend, run.meta.get("target")),
        "latency": latency_kind(run.backend),
        "verdict": check.get("verdict", evidence.verdict),
        "gate": run_gate.as_json(),
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
        "answers_erased": answers_erased(check),
        "examples": [_example(example) for a in check.get("anomalies", {}).values()
                     for example in a.get("examples", [])],
        "lag_ms": check.get("lag_ms", {}),
        "notes": list(check.get("notes", [])),
        "meta": run.meta,
    }


def build_summary(campaign: Campaign, expectations: Sequence[Expectation],
                  plots: Sequence[Mapping[str, str]] = (),
                  time_scale: float = 1.0) -> dict[str, Any]:
    """The whole report as data (``summary.json``); ``plots`` lists the figures' files.

    ``expectations`` are held against the runs as given (``analysis.gates.with_defaults`` adds
    the harness's own); raises :class:`~analysis.gates.GateError` for one that selects no run.
    """
    entries = [run.check for run in campaign.runs]
    gates = evaluate(expectations, entries, [run.label for run in campaign.runs])
    first = {}
    for found in gates:
        first.setdefault(found.store, found)
    stores = [store_summary(run, first.get(run.label) or gate(run.check, None, run.label))
              for run in campaign.runs]
    return {
        "format": FORMAT,
        "campaign": str(campaign.path),
        "verdict": outcome(gates),
        "check_source": campaign.check_source,
        "time_scale": time_scale,
        "gates": [found.as_json() for found in gates],
        "stores": stores,
        "meanings": {kind: MEANINGS.get(kind, "see docs/checker.md")
                     for s in stores for kind in s["anomalies"]},
        "erasures": sorted(({"store": s["store"], "count": s["answers_erased"]} for s in stores),
                           key=lambda entry: -entry["count"]),
        "erasure_plot": next((p for p in plots if p["name"] == ERASURE_TIMELINE), None),
        "plots": list(plots),
    }
