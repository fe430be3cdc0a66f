"""Latency and throughput figures computed exactly from a run's history records.

Pure computation, no output: the plots and the report both draw on these, so a number in a table
and the curve beside it can never disagree. Every figure comes from the records' own ``t0``/``t1``
(``time.monotonic_ns()``), not from Locust's rounded statistics, and percentiles are exact
(linear interpolation between the two nearest observations, as numpy's default), so a
percentile is an observed value rather than a histogram bucket's edge; and only where the
samples support it (:func:`supported`): no p99.9 from 14 samples.

Record fields are those of ``docs/history.md``; ``server_ms`` (the server's own time
per request, from its ``Server-Timing`` header) is optional and used only where present. A 409 to
a second, different answer is the protocol working (``analysis.history.protocol_refusal``): it is
counted on its own and never as an error.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.history import OK, OPS, PROTOCOL, Record, after_load, outcome

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

#: The percentiles in the report's tables.
TABLE_PERCENTILES = (50.0, 95.0, 99.0)

#: Points of the latency percentile curves, spaced evenly in "nines" from p50 to p99.9, so that
#: a log-scaled axis of 1 / (1 - q) shows the tail as clearly as the median.
CURVE_PERCENTILES: tuple[float, ...] = tuple(
    100.0 * (1.0 - 10.0 ** -x) for x in np.linspace(math.log10(2.0), 3.0, 41)
)


#: A run whose sessions started below this share of the rate it was given did not get the load
#: the others got (``arrival_rate``).
SHORT_OF_RATE = 0.9


def supported(percent: float, samples: int) -> bool:
    """Whether ``samples`` values support the ``percent`` percentile: at least one of them lies
    at or beyond it (p99 needs 100 samples, p99.9 a thousand, p50 two). Beyond that,
    interpolating would draw a tail nothing measured."""
    return samples * (100.0 - percent) >= 100.0 - 1e-9


def percentiles(values: Sequence[float], points: Iterable[float]) -> list[float | None]:
    """Exact percentiles of ``values`` at each of ``points`` (0-100); None for a point the
    values do not support (:func:`supported`), so for every point when there are none."""
    points = list(points)
    kept = [p for p in points if supported(p, len(values))]
    if not kept:
        return [None for _ in points]
    found = dict(zip(kept, np.percentile(np.asarray(values, dtype=float), kept)))
    return [float(found[p]) if p in found else None for p in points]


@dataclass
class OpLatency:
    """One operation type's samples in one run: client-side times of ok records, server times
    where the server reported them, and how the others ended: refused as the protocol says
    (``protocol``), ``fail`` (refused) and ``info`` (unknown outcome) as the history types them."""

    op: str
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    ok: int = 0
    protocol: int = 0
    fail: int = 0
    info: int = 0

    @property
    def operations(self) -> int:
        return self.ok + self.protocol + self.fail + self.info


def latencies(records: Iterable[Record]) -> dict[str, OpLatency]:
    """Latency samples per operation type, in the order docs/history.md lists them.

    Only ``ok`` records give a latency: a failure's or a timeout's time measures something else
    (how fast the server refuses, or the client's timeout), so those are counted as errors, and
    a 409 to a second answer as the protocol working. Reads after the load stopped (final reads,
    settling rounds) are left out, since they do not run under load.
    """
    by_op: dict[str, OpLatency] = {}
    for record in records:
        if after_load(record):
            continue
        entry = by_op.get(record.op)
        if entry is None:
            entry = by_op[record.op] = OpLatency(record.op)
        ended = outcome(record)
        if ended != OK:
            if ended == PROTOCOL:
                entry.protocol += 1
            elif record.type == "fail":
                entry.fail += 1
            else:
                entry.info += 1
            continue
        entry.ok += 1
        entry.client_ms.append((record.t1 - record.t0) / NS_PER_MS)
        if record.server_ms is not None:
            entry.server_ms.append(float(record.server_ms))
    return {op: by_op[op] for op in OPS if op in by_op}


@dataclass
class Throughput:
    """Operations completed per second in consecutive buckets since the run's first invocation.

    ``start_s`` holds each bucket's start in wall seconds; ``ok`` (operations that did what the
    protocol says, a 409 to a second answer included) and ``errors`` (refused, or no response)
    are rates (per wall second), so runs with different bucket widths stay comparable.
    """

    bucket_s: float
    start_s: list[float]
    ok: list[float]
    errors: list[float]


def throughput(records: Sequence[Record], bucket_s: float = 1.0) -> Throughput:
    """Completions per bucket of ``bucket_s`` wall seconds, by ``t1`` since the first ``t0``.

    Monotonic clocks are comparable only within one host, so each host's records are placed
    relative to that host's own first invocation and the buckets are then summed: for several
    load-generating machines started together this is the combined rate.
    """
    if bucket_s <= 0:
        raise ValueError("bucket_s must be greater than 0")
    live = [r for r in records if not after_load(r)]
    first = first_invocations(live)
    ok: dict[int, int] = defaultdict(int)
    errors: dict[int, int] = defaultdict(int)
    for record in live:
        index = int((record.t1 - first[record.host]) / NS_PER_S // bucket_s)
        target = ok if outcome(record) in (OK, PROTOCOL) else errors
        target[index] += 1
    count = max([*ok, *errors], default=-1) + 1
    return Throughput(
        bucket_s=bucket_s,
        start_s=[i * bucket_s for i in range(count)],
        ok=[ok[i] / bucket_s for i in range(count)],
        errors=[errors[i] / bucket_s for i in range(count)],
    )


@dataclass(frozen=True)
class FaultWindow:
    """When a fault held the server (the nemesis's record), on one figure's time axis."""

    kind: str
    start: float
    end: float


def first_invocations(records: Iterable[Record]) -> dict[Any, int]:
    """Per host, the first ``t0`` under load: where a run's time axis starts on that host."""
    first: dict[Any, int] = {}
    for record in records:
        if after_load(record):
            continue
        host = record.host
        first[host] = min(first.get(host, record.t0), record.t0)
    return first


def fault_windows(faults: Iterable[Mapping[str, Any]], origins: Mapping[Any, int],
                  unit_ns: int = NS_PER_S) -> list[FaultWindow]:
    """Each fault from start to end in ``unit_ns`` since its host's origin (``origins``:
    monotonic ns per host); a fault on a host with no origin is left out, since its clock
    cannot be placed."""
    return [FaultWindow(str(fault["kind"]), (int(fault["t0"]) - origins[fault["host"]]) / unit_ns,
                        (int(fault["t1"]) - origins[fault["host"]]) / unit_ns)
            for fault in faults if fault.get("host") in origins]


def arrival_rate(records: Sequence[Record]) -> float:
    """Sessions started per wall second under load: offers sent (a create of any outcome),
    over the time from the first to the last on each host (monotonic clocks compare only
    there), the hosts' rates added. Measured over the creates alone, so the flows that end
    after the last session started do not dilute it."""
    starts: dict[str, list[int]] = defaultdict(list)
    for record in records:
        if record.op == "create" and not after_load(record):
            starts[record.host].append(record.t0)
    rate = 0.0
    for times in starts.values():
        if max(times) > min(times):
            rate += (len(times) - 1) / ((max(times) - min(times)) / NS_PER_S)
    return rate


def process_of(record: Record) -> str | None:
    """The load-generating process of a record: the pid in ``<host>/<pid>/<user>/<role>``."""
    parts = str(record.client or "").split("/")
    return parts[1] if len(parts) >= 4 else None


def span_s(records: Sequence[Record]) -> float:
    """Wall seconds under load: the denominator of a run's mean throughput.

    Each load-generating process was busy from its first invocation to its last completion
    under load; the time under load is the union of those spans (per host, the longest). So
    workers running side by side count once, and a folder holding two runs' histories, made
    minutes apart, does not dilute the rate with the idle time between them.
    """
    spans: dict[Any, dict[Any, list[int]]] = defaultdict(dict)
    for record in records:
        if after_load(record):
            continue
        t0, t1 = record.t0, record.t1
        span = spans[record.host].setdefault(process_of(record), [t0, t1])
        span[0], span[1] = min(span[0], t0), max(span[1], t1)
    longest = 0
    for by_process in spans.values():
        intervals = sorted(by_process.values())
        busy, (start, end) = 0, intervals[0]
        for t0, t1 in intervals[1:]:
            if t0 > end:
                busy, start = busy + end - start, t0
            end = max(end, t1)
        longest = max(longest, busy + end - start)
    return longest / NS_PER_S


def time_scale(meta: Mapping[str, Any]) -> float:
    """Wall seconds per model second for this run (docs/baselines.md); 1.0 when none was recorded."""
    for source in (meta, meta.get("server") or {}):
        value = source.get("time_scale")
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return 1.0
