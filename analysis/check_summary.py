"""The checker's terminal summary: a few lines per run a person reads before the JSON."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from analysis.checker.evidence import durability_words
from analysis.checker.faults import faults_words
from analysis.checker.result import ERASED, LOST_ACROSS_CRASH, RunResult
from analysis.gates import Gate


def format_run(result: RunResult, examples: int = 3) -> str:
    """Counts, lag percentiles, faults and durability, verdict and the first ``examples``
    explanations per anomaly (and of writes lost across a kill)."""
    coverage = result.coverage
    lines = [
        f"run {result.name} (backend {result.backend}): {result.path}",
        f"  checked {result.operations} operations in {result.sessions} sessions "
        f"({result.unverifiable} unverifiable: left or not read after settling)",
        f"  under load: {coverage.under_load:,} operations, {coverage.refused:,} refused, "
        f"{coverage.no_response:,} with no response; {coverage.verified:,} of "
        f"{coverage.written:,} sessions with an acknowledged write verified",
    ]
    width = max(len(kind) for kind in result.tallies)
    lines.append(f"  {'anomaly'.ljust(width)}  {'count':>7}  {'sessions':>8}")
    for kind, tally in result.tallies.items():
        lines.append(f"  {kind.ljust(width)}  {tally.count:>7}  {len(tally.sessions):>8}")
    for kind, tally in result.tallies.items():
        if tally.by_cause and tally.count:
            lines.append(f"  {kind} by cause: " + format_causes(tally.by_cause, tally.erased_by))
    lines.append("  visibility lag (ms): " + format_lag(result.lag_ms))
    if result.faults:
        lines.append("  faults injected: " + faults_words(result.faults))
        lines.append("  durability: " + (durability_words(result.durability)
                                         or "no kill, nothing to decide"))
    for note in result.notes:
        lines.append(f"  note: {note}")
    found, reason = result.judged()
    lines.append(f"  verdict: {found}: {reason}")
    found = [(kind, tally.count, tally.examples) for kind, tally in result.tallies.items()]
    durability = result.durability
    found.append((LOST_ACROSS_CRASH, durability.lost_across, durability.examples))
    for kind, count, kept in found:
        if not count:
            continue
        lines.append(f"  {kind} (first {min(examples, len(kept))} of {count}):")
        for example in kept[:examples]:
            text = f"session {example['session']}: {example['explanation']}"
            lines.append(textwrap.fill(text, width=100, initial_indent="    - ",
                                       subsequent_indent="      "))
    return "\n".join(lines)


def format_causes(by_cause: dict[str, int], erased_by: dict[str, int]) -> str:
    """``3 erased (by offerer-candidate 2, answerer-candidate 1, unknown 0), 5 overwritten``."""
    erasers = ", ".join(f"{eraser} {n}" for eraser, n in erased_by.items())
    return ", ".join(f"{n} {cause}" + (f" (by {erasers})" if cause == ERASED else "")
                     for cause, n in by_cause.items())


def format_lag(lag: dict[str, Any]) -> str:
    if not lag.get("count"):
        return "no write became visible"
    parts = [f"{key} {lag[key]:.1f}" for key in ("p50", "p90", "p95", "p99", "max")]
    return f"{lag['count']} writes, " + ", ".join(parts)


def format_gates(gates: Sequence[Gate]) -> str:
    lines = ["gates:"]
    for gate in gates:
        outcome = gate.outcome if gate.passed else gate.outcome.upper()
        lines.append(f"  {gate.run} (backend {gate.backend}) expected "
                     f"{gate.expect}: {outcome}: {gate.message}")
    return "\n".join(lines)
