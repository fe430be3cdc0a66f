"""Visibility lag: how long after a write was known the other side could still miss it.

For a linearizable store every lag is 0 (no read that began after a write was known misses it);
for the KV-style store it is the figure worth plotting. Percentiles are nearest-rank, so every
reported value is one that was measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

PERCENTILES = (50, 90, 95, 99)


def summarize(lags_ns: Sequence[int]) -> dict[str, Any]:
    """``{"count", "p50", "p90", "p95", "p99", "max"}`` in milliseconds; None where empty."""
    ordered = sorted(lags_ns)
    summary: dict[str, Any] = {"count": len(ordered)}
    for percent in PERCENTILES:
        summary[f"p{percent}"] = _rank(ordered, percent)
    summary["max"] = ordered[-1] / 1e6 if ordered else None
    return summary


def _rank(ordered: Sequence[int], percent: int) -> float | None:
    if not ordered:
        return None
    position = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[position - 1] / 1e6
