"""The comparison's verdicts, first screen, gates and tables as plain data: what every report
format says.

``summary.json`` is this data as it is; ``summary.md`` and ``report.html`` are renderings of it
(``analysis.report_render``), so the three cannot disagree. The report leads with what a person
running a signaling service cares about: per store, the checker's verdict in plain words (a store
that lost writes is never under a green mark), and the first screen's rows (:data:`FIRST_SCREEN`:
lost writes, handshakes completed and their time, writes refused, operations unanswered). Only
then, on a line of its own, whether the harness's own gates held (docs/report.md): a store that
claims consistency must be found consistent, and a baseline known to lose writes must be caught
doing so, or the harness has lost its teeth.

The exit status of the commands that write a report follows from the same data
(:func:`closing`): a failed gate gives 1; a run no gate judges gives its verdict's status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis import artifacts, stats
from analysis.availability import availability
from analysis.campaign import Campaign, Run
from analysis.checker.faults import faults_words
from analysis.checker.result import LOST_ACROSS_CRASH, UNKNOWN_ERASER
from analysis.gates import Evidence, Expectation, Gate, evaluate, gate, outcome
from analysis.history import record_from_json
from analysis.price import by_store, price_tag
from analysis.stores import describe, latency_kind
from analysis.timeline import ERASURE_TIMELINE, describe_op, lane_names
from analysis.verdicts import (
    ANOMALIES_FOUND,
    EXIT_GATE_FAILED,
    EXIT_STATUS,
    FAILED,
    INCONCLUSIVE,
    NOT_GATED,
    combined,
)
from analysis.wording import plural, wall_model

FORMAT = 1
HANDSHAKE_POINTS = (50.0, 95.0)
"""The percentiles of the time to complete a handshake on the first screen."""

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
    LOST_ACROSS_CRASH: "a write acknowledged before the server was killed is missing from every "
                       "read after it came back: the store acknowledged it before it was "
                       "durable, and a crash lost it (the durability count, not an anomaly type)",
}


def _percentile_points(values: Sequence[float],
                       points: Sequence[float] = stats.TABLE_PERCENTILES
                       ) -> dict[str, float | None] | None:
    if not values:
        return None
    return {f"p{p:g}": v for p, v in zip(points, stats.percentiles(values, points))}


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
                      == (culprit.get("file"), culprit.get("line")) else "")
                     + describe_op(record_from_json(op))}
            for op in ops]
    return {"type": example.get("type"), "session": example.get("session"),
            "explanation": example.get("explanation", ""), "ops": rows}


def answers_erased(check: Mapping[str, Any]) -> int:
    """Acknowledged answers a stale ICE candidate update erased (the checker named the
    candidate write that carried it): the seed's failure, in the seed's own terms."""
    erased_by = check.get("anomalies", {}).get("lost-answer", {}).get("erased_by", {})
    return sum(n for eraser, n in erased_by.items() if eraser != UNKNOWN_ERASER)


def _availability_json(run: Run) -> dict[str, Any]:
    found = availability(run.records)
    shakes = found.handshakes
    return {
        "under_load": found.under_load,
        "handshakes": {"started": shakes.started, "completed": shakes.completed,
                       "time_ms": _percentile_points(shakes.durations_ms, HANDSHAKE_POINTS)},
        "refused_writes": [{"reason": reason, "count": n} for reason, n in found.refused_writes],
        "refused_total": found.refused_total,
        "no_response": [{"reason": reason, "count": n} for reason, n in found.no_response],
        "no_response_total": found.no_response_total,
        "protocol_refusals": found.protocol_refusals,
    }


def store_summary(run: Run, run_gate: Gate, output: Path | None = None,
                  check_json: Path | None = None) -> dict[str, Any]:
    """Everything the report says about one run, under its gate; links relative to ``output``."""
    check = run.check
    anomalies = {kind: {"count": int(a.get("count", 0)), "sessions": int(a.get("sessions", 0))}
                 for kind, a in check.get("anomalies", {}).items()}
    evidence = Evidence.from_run_json(check)
    operations = int(check.get("operations", len(run.records)))
    span = stats.span_s(run.records)
    latencies = stats.latencies(run.records)
    under_load = sum(v.operations for v in latencies.values())
    return {
        "store": run.label, "backend": run.backend, "run": check.get("run", run.meta.get("run")),
        "path": str(run.path), "target": run.meta.get("target"),
        "description": describe(run.backend, run.meta.get("target")),
        "latency": latency_kind(run.backend),
        "verdict": evidence.verdict,
        "reason": evidence.reason,
        "gate": run_gate.as_json(),
        "operations": operations, "sessions": check.get("sessions"),
        "unverifiable": check.get("unverifiable"),
        "duration_s": span,
        "throughput_ops_s": under_load / span if span else None,
        "arrival_rate": stats.arrival_rate(run.records),
        "ops": {op: {"ok": v.ok, "protocol": v.protocol, "fail": v.fail, "info": v.info,
                     "client_ms": _percentile_points(v.client_ms),
                     "server_ms": _percentile_points(v.server_ms)}
                for op, v in latencies.items()},
        "anomalies": anomalies, "anomaly_total": evidence.total,
        "lost_writes": evidence.lost_writes,
        "faults": list(check.get("faults", [])),
        "durability": {"kills": evidence.kills,
                       "acknowledged_before": evidence.acknowledged_before,
                       "lost_across": evidence.lost_across},
        "availability": _availability_json(run),
        "locust_failures": artifacts.locust_failures(run.path),
        "links": artifacts.links(run.path, output, check_json) if output is not None else [],
        "settling": run.meta.get("settling"),
        "unsupported": dict(run.meta.get("unsupported") or {}),
        "answers_erased": answers_erased(check),
        "examples": [_example(example) for a in (*check.get("anomalies", {}).values(),
                                                 check.get("durability") or {})
                     for example in a.get("examples", [])],
        "lag_ms": check.get("lag_ms", {}),
        "notes": list(check.get("notes", [])),
        "meta": run.meta,
    }


# --- The first screen: what a user of each store felt -----------------------------------------

GOOD, BAD, UNKNOWN, PLAIN = "good", "bad", "unknown", ""
"""Tones of a cell: green, red, amber (inconclusive), none."""
SHOWN_REASONS = 3


def _losses(store: Mapping[str, Any]) -> tuple[int, bool, int]:
    """What a store that misbehaved is said to have lost, once for every wording: the count
    led with, whether that count is the crash's, and the writes missing after a kill. The
    durability count cannot tell a crash's loss from a race's after a restart, so the larger
    count leads (docs/report.md)."""
    crashed, lost = store["durability"]["lost_across"], store["lost_writes"]
    if crashed and crashed >= lost:
        return crashed, True, crashed
    return lost, False, crashed


def verdict_words(store: Mapping[str, Any]) -> tuple[str, str]:
    """The store's verdict in the words a user would use, and its tone."""
    name, verdict, reason = store["store"], store["verdict"], store["reason"]
    if verdict == ANOMALIES_FOUND:
        count, in_crash, crashed = _losses(store)
        if in_crash:
            return (f"{name} LOST {plural(count, 'acknowledged write')} across a crash "
                    f"({reason})", BAD)
        if count:
            also = f", {crashed:,} of them missing after a kill" if crashed else ""
            return f"{name} LOST {plural(count, 'acknowledged write')}{also} ({reason})", BAD
        return f"{name} lost no acknowledged write it could check, but misbehaved ({reason})", BAD
    if verdict == INCONCLUSIVE:
        return f"{name}: cannot tell whether it loses writes (inconclusive): {reason}", UNKNOWN
    return f"{name} lost no acknowledged write ({reason})", GOOD


def short_verdict(store: Mapping[str, Any]) -> str:
    """A few words for the closing line: ``consistent``, ``lost 4,468 writes``, ..."""
    if store["verdict"] == ANOMALIES_FOUND:
        count, in_crash, crashed = _losses(store)
        if in_crash:
            return (f"lost {plural(count, 'write')} across "
                    f"{plural(store['durability']['kills'], 'kill')}")
        if count:
            also = f" ({crashed:,} missing after a kill)" if crashed else ""
            return f"lost {plural(count, 'write')}{also}"
        return plural(store["anomaly_total"], "anomaly", "anomalies")
    return store["verdict"]


def _reasons(items: Sequence[Mapping[str, Any]]) -> str:
    shown = "; ".join(f"{item['count']:,}\u00d7 {item['reason']}"
                      for item in items[:SHOWN_REASONS])
    more = len(items) - SHOWN_REASONS
    return shown + (f"; {more} more reasons" if more > 0 else "")


def _lost_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    lost = store["lost_writes"]
    if lost:
        return {"text": f"{lost:,}", "tone": BAD}
    if store["verdict"] == INCONCLUSIVE:
        return {"text": "none found, but too little was verified", "tone": UNKNOWN}
    return {"text": "none", "tone": GOOD}


def _anomalies_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    found = ", ".join(f"{a['count']:,} {kind}" for kind, a in store["anomalies"].items()
                      if a["count"])
    return {"text": found or "none", "tone": BAD if found else PLAIN}


def _handshakes_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    shakes = store["availability"]["handshakes"]
    started, completed = shakes["started"], shakes["completed"]
    if not started:
        return {"text": "none started", "tone": UNKNOWN}
    share = completed / started
    tone = GOOD if share >= 0.9 else BAD if share < 0.5 else PLAIN
    return {"text": f"{completed:,} of {started:,} ({share:.0%})", "tone": tone}


def _handshake_time_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    points = store["availability"]["handshakes"]["time_ms"]
    if not points:
        return {"text": "-", "tone": PLAIN}
    seconds = [None if points[p] is None else points[p] / 1000 for p in ("p50", "p95")]
    return {"text": " / ".join(wall_model(v, scale) for v in seconds), "tone": PLAIN}


def _refused_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    found = store["availability"]
    if not found["refused_total"]:
        return {"text": "none", "tone": PLAIN}
    return {"text": f"{found['refused_total']:,}: {_reasons(found['refused_writes'])}",
            "tone": BAD}


def _no_response_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    found = store["availability"]
    if not found["no_response_total"]:
        return {"text": "none", "tone": PLAIN}
    return {"text": f"{found['no_response_total']:,} of {found['under_load']:,}: "
                    f"{_reasons(found['no_response'])}", "tone": BAD}


def _protocol_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    return {"text": f"{store['availability']['protocol_refusals']:,}", "tone": PLAIN}


def _faults_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    faults = store["faults"]
    return {"text": faults_words(faults), "tone": PLAIN}


def _durability_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    durability = store["durability"]
    kills, checked, lost = (durability["kills"], durability["acknowledged_before"],
                            durability["lost_across"])
    if not kills:
        return {"text": "no crash injected", "tone": PLAIN}
    before = f"{plural(checked, 'write')} acknowledged before {plural(kills, 'kill')}"
    if lost:
        return {"text": f"{lost:,} of {before}", "tone": BAD}
    if not checked:
        return {"text": f"none to check: no write acknowledged before {plural(kills, 'kill')} "
                        "was read after it", "tone": UNKNOWN}
    return {"text": f"none of {before}", "tone": GOOD}


def _unsupported_cell(store: Mapping[str, Any], scale: float) -> dict[str, str]:
    unsupported = store["unsupported"]
    return {"text": "; ".join(f"{op}: {why}" for op, why in unsupported.items()) or "none",
            "tone": UNKNOWN if unsupported else PLAIN}


Row = tuple[str, Callable[[Mapping[str, Any], float], dict[str, str]]]
FIRST_SCREEN: tuple[Row, ...] = (
    ("acknowledged writes lost", _lost_cell),
    ("anomalies proven", _anomalies_cell),
    ("handshakes completed (offerer and answerer each got the other's description and a "
     "candidate)", _handshakes_cell),
    ("time to complete a handshake p50 / p95, s", _handshake_time_cell),
    ("writes refused by the store, by reason", _refused_cell),
    ("operations with no response (outcome unknown)", _no_response_cell),
    ("second answers refused with 409 (the protocol working, not an error)", _protocol_cell),
    ("routes not supported by this target", _unsupported_cell),
    ("faults injected while loaded (kill: SIGKILL, then a restart on the same database; pause: "
     "SIGSTOP beyond the clients' timeout), s since the run's first operation", _faults_cell),
    ("durability: acknowledged writes lost across a crash (acknowledged before a kill, missing "
     "from every read after it)", _durability_cell),
)
"""The first screen's rows, in order: a label and, per store, a cell (text and tone). Add a
row here and every rendering shows it."""


def _runs_cell(cells: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """One cell for several runs of a store: their text once if they agree, else each run's in
    run order; the worst tone of any run (one run that lost writes makes the store red)."""
    texts = [cell["text"] for cell in cells]
    tones = {cell["tone"] for cell in cells}
    tone = (BAD if BAD in tones else UNKNOWN if UNKNOWN in tones
            else GOOD if tones == {GOOD} else PLAIN)
    return {"text": texts[0] if len(set(texts)) == 1 else " \u00b7 ".join(texts), "tone": tone}


def first_screen(stores: Sequence[Mapping[str, Any]], scale: float) -> dict[str, Any]:
    """The first table of the report: :data:`FIRST_SCREEN` against every store, a column per
    store whatever its number of runs (times in wall seconds, model seconds in brackets at a
    time scale other than 1)."""
    groups = by_store(stores)
    rows = [{"label": name, "cells": [_runs_cell([cell(run, scale) for run in runs])
                                      for _store, runs in groups]}
            for name, cell in FIRST_SCREEN]
    headers = [runs[0]["store"] if len(runs) == 1 else f"{store} ({len(runs)} runs)"
               for store, runs in groups]
    return {"stores": headers, "rows": rows}


def verdicts_in_brief(stores: Sequence[Mapping[str, Any]], separator: str = "; ") -> str:
    """``sqlite consistent (3 of 3 runs); kv (3 runs): lost 1,618 writes / lost 1,633 writes /
    lost 1,643 writes``: each store's :func:`short_verdict`, once per store (the headline, and
    the closing line with ``", "``)."""
    parts = []
    for store, runs in by_store(stores):
        words = [short_verdict(run) for run in runs]
        if len(runs) == 1:
            parts.append(f"{runs[0]['store']} {words[0]}")
        elif len(set(words)) == 1:
            parts.append(f"{store} {words[0]} ({len(runs)} of {len(runs)} runs)")
        else:
            parts.append(f"{store} ({len(runs)} runs): {' / '.join(words)}")
    return separator.join(parts)


def gates_line(gates: Sequence[Gate]) -> dict[str, Any]:
    """Whether the harness's own gates held, as one clearly named line and the gates under it."""
    held = outcome(gates)
    failed = [g for g in gates if g.passed is False]
    if held == NOT_GATED:
        text = ("Harness gates: none set (a target with no --expect is reported as found, and "
                "the exit status follows its verdict)")
    elif held == FAILED:
        text = f"Harness gates: FAILED ({len(failed)} of {len(gates)} did not hold)"
    else:
        text = f"Harness gates: held ({len(gates)} of {len(gates)})"
    return {"outcome": held, "text": text,
            "gates": [{"store": g.store, "passed": g.passed, "message": g.message}
                      for g in gates]}


def closing(gates: Sequence[Gate], stores: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """The exit status and the last line a command prints, which states it.

    A failed gate gives 1; a store no gate judges gives its verdict's status (anomalies before
    inconclusive before consistent); gates that all held and nothing else give 0.
    """
    gated = {g.store for g in gates if g.passed is not None}
    ungated = [s for s in stores if s["store"] not in gated]
    failed = [g for g in gates if g.passed is False]
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {len(gates)} harness gates FAILED ("
                     + "; ".join(f"{g.store}: {g.message}" for g in failed) + ")")
    elif gated:
        parts.append("the harness's gates held ("
                     + verdicts_in_brief([s for s in stores if s["store"] in gated], ", ") + ")")
    parts += [f"{s['store']} {s['verdict']}: {s['reason']}" for s in ungated]
    if failed:
        status = EXIT_GATE_FAILED
    else:
        status = EXIT_STATUS[combined(s["verdict"] for s in ungated)] if ungated else 0
    return status, f"exit {status}: " + "; ".join(parts)


def build_summary(campaign: Campaign, expectations: Sequence[Expectation],
                  plots: Sequence[Mapping[str, str]] = (),
                  time_scale: float = 1.0, output: Path | None = None) -> dict[str, Any]:
    """The whole report as data (``summary.json``); ``plots`` lists the figures' files, and
    ``output`` (the report's folder) is what links to each run's files are relative to.

    ``expectations`` are held against the runs as given (``analysis.gates.with_defaults`` adds
    the harness's own); raises :class:`~analysis.gates.GateError` for one that selects no run.
    """
    entries = [run.check for run in campaign.runs]
    gates = evaluate(expectations, entries, [run.label for run in campaign.runs])
    first = {}
    for found in gates:
        first.setdefault(found.store, found)
    stores = [store_summary(run, first.get(run.label) or gate(run.check, None, run.label),
                            output, campaign.check_file)
              for run in campaign.runs]
    status, line = closing(gates, stores)
    return {
        "format": FORMAT,
        "campaign": str(campaign.path),
        "verdict": outcome(gates),
        "exit_status": status,
        "closing": line,
        "check_source": campaign.check_source,
        "time_scale": time_scale,
        "headline": verdicts_in_brief(stores),
        "verdicts": [dict(zip(("text", "tone"), verdict_words(store))) for store in stores],
        "first_screen": first_screen(stores, time_scale),
        "gates_line": gates_line(gates),
        "gates": [found.as_json() for found in gates],
        "stores": stores,
        "price": price_tag(stores),
        "meanings": {kind: MEANINGS.get(kind, "see docs/checker.md")
                     for s in stores for kind in (*s["anomalies"], LOST_ACROSS_CRASH)},
        "erasures": sorted(({"store": s["store"], "count": s["answers_erased"]} for s in stores),
                           key=lambda entry: -entry["count"]),
        "erasure_plot": next((p for p in plots if p["name"] == ERASURE_TIMELINE), None),
        "plots": list(plots),
    }
