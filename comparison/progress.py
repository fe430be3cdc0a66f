"""Progress of a running Locust process, read from the stats CSV Locust rewrites every second.

Reading Locust's own file (rather than counting history lines) means the campaign shows the same
request and failure counts that Locust's summary will print at the end.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Totals:
    requests: int
    failures: int


def read_totals(stats_csv: Path) -> Totals | None:
    """The Aggregated row of ``<prefix>_stats.csv``, or None before Locust has written it."""
    try:
        with stats_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("Name") == "Aggregated":
                    return Totals(int(row["Request Count"]), int(row["Failure Count"]))
    except (OSError, KeyError, ValueError):
        return None
    return None


def progress_line(label: str, remaining_s: float, totals: Totals | None) -> str:
    counts = (f"{totals.requests:,} requests, {totals.failures:,} errors" if totals
              else "starting")
    phase = f"{remaining_s:.0f} s of load left" if remaining_s > 0 else "settling, final reads"
    return f"[{label}] {phase}: {counts}"
