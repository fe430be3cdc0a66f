"""The price tag: each store's latency at the arrival rate every store was given, as medians
over its repeated runs with their spread.

One run's percentiles move from run to run on a shared machine (the ranking of two close
stores flipped between runs when each faced its own load), so the comparison runs every store
at the same arrival rate of sessions, several times (``--repeat``), and the report gives per
store and operation the median of each run's percentile and the lowest and highest of them.
Built from the report's per-run summaries (``analysis.report.store_summary``), grouped by
backend in the order the runs came.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

POINTS = ("p50", "p95", "p99")
"""The percentiles of each run's latency that the price tag summarises."""


def spread(values: Iterable[float | None]) -> dict[str, float | int] | None:
    """``{"median", "min", "max", "runs"}`` of the values some run had (None where a run's
    samples did not support the figure), or None when no run had one."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    return {"median": statistics.median(present), "min": min(present), "max": max(present),
            "runs": len(present)}


def target_rate(meta: Mapping[str, Any]) -> float | None:
    """The sessions per wall second a run was given: its users over their pacing (meta.json's
    ``users`` and ``client.pacing_s``); None for a run without ``--pacing``."""
    pacing = (meta.get("client") or {}).get("pacing_s")
    users = meta.get("users")
    if not isinstance(pacing, (int, float)) or not isinstance(users, int) or pacing <= 0:
        return None
    return users / pacing


def by_store(stores: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The runs of each store (its backend), in the order the stores first appear: a store run
    several times (``--repeat``) is one row of the price tag, one column of the first screen
    and one entry of the headline (``analysis.report``)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for store in stores:
        groups.setdefault(str(store["backend"]), []).append(store)
    return list(groups.items())


def price_tag(stores: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per backend: its runs, the arrival rate given and achieved, throughput, and per
    operation the client's and the server's percentiles, each as :func:`spread`."""
    tags = []
    for backend, runs in by_store(stores):
        ops = list(dict.fromkeys(op for run in runs for op in run["ops"]))
        tags.append({
            "backend": backend,
            "latency": runs[0]["latency"],
            "runs": [run["store"] for run in runs],
            "target_rate": spread(target_rate(run["meta"]) for run in runs),
            "arrival_rate": spread(run["arrival_rate"] for run in runs),
            "throughput_ops_s": spread(run["throughput_ops_s"] for run in runs),
            "ops": {op: {kind: {point: spread(_point(run, op, kind, point) for run in runs)
                                for point in POINTS}
                         for kind in ("client_ms", "server_ms")}
                    for op in ops},
        })
    return tags


def _point(run: Mapping[str, Any], op: str, kind: str, point: str) -> float | None:
    return ((run["ops"].get(op) or {}).get(kind) or {}).get(point)
