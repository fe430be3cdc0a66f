"""What several test modules share; test support lives here, never in the product.

``tests`` is on pytest's ``pythonpath`` (``pyproject.toml``), so a test imports these as
``support`` and ``support.<module>``: the fake clock for deterministic races, the concurrency
workload, the simulated correct store with its fault injectors, Locust's parser for in-process
runs, and the constants and builders below.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from analysis.history import LoadedRun, Record, record_from_json
from server.process import ServerProcess

IN_CI = os.environ.get("CI") == "true"
"""Whether this is a CI run (``.ci/run``, or any CI that sets ``CI=true``): there a test that
needs a missing tool fails instead of skipping, and Hypothesis runs repeatably."""

ROOT = Path(__file__).resolve().parent.parent.parent
"""The repository's checkout."""
DATA = ROOT / "tests" / "data"
CHECKER_CASES = DATA / "checker"
"""Hand-written run folders, one per anomaly type and near miss, each with its expect.json."""
PLOTS_COMPARISON = DATA / "plots"
"""A tiny comparison folder (sqlite, rmw, kv) with its check.json, for the plots and report."""
FIXTURE_TIMELINES = [
    *(f"timeline-kv-{kind}" for kind in (
        "lost-answer", "stale-read", "non-monotonic-read", "incompatible-order", "duplicate",
        "phantom", "lost-session", "monotonic-writes", "cross-object-read")),
    *(f"timeline-rmw-{kind}" for kind in ("lost-candidate", "lost-answer", "conflicting-answers")),
    "erased-answer",
]
"""The timelines :data:`PLOTS_COMPARISON` has, one per store and anomaly type found there (the
types as its ``generate.py`` placed them), after the five figures every report has; last the
first-screen picture of kv's erased answer (session k1)."""

class WrittenReport(NamedTuple):
    """``python -m analysis report`` on :data:`PLOTS_COMPARISON` (conftest's ``plots_report``)."""

    folder: Path
    status: int
    lines: list[str]
    """What it printed on stdout, line by line."""


ServerFactory = Callable[..., ServerProcess]
"""``start_server(backend, *args, workers=1)``: the conftest fixture's real server process."""

ORIGIN = "https://app.example"
"""The Origin every test client sends (sessions belong to it)."""


def candidate(token: str, n: int = 0) -> str:
    """An ICE candidate as rondevu's browser client sent it, ``token`` as its foundation."""
    return json.dumps({
        "candidate": f"candidate:{token} 1 udp 2122260223 10.0.0.{n % 250} {40000 + n} typ host",
        "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd",
    })


HISTORY_FILE = "history/h.jsonl"


def loaded_run(records: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> LoadedRun:
    """A run as ``load_run`` would give it, from records in memory (each a line's JSON): all in
    one history file (:data:`HISTORY_FILE`), record ``i`` on line ``i + 1``."""
    return LoadedRun(path=Path("in-memory"), meta=meta or {},
                     records=[record_from_json(record) for record in records],
                     files=[HISTORY_FILE], file_starts=[0],
                     line_numbers=array("l", range(1, len(records) + 1)))


def record(**fields: Any) -> Record:
    """A history record from the fields a test cares about; the required ones it leaves out are
    a poll on host ``h`` that took no time and succeeded."""
    return record_from_json({"op": "poll", "t0": 0, "t1": 0, "host": "h", "type": "ok",
                             **fields})
