"""Load a comparison folder: every run's history, paired with the checker's verdict on it.

Both ``python -m analysis plot`` and ``python -m analysis report`` start here, so they agree on
which runs a comparison holds and what each is called. The checker's JSON
(``<campaign>/check.json``, docs/checker.md) is reused when present, because checking a large
history twice is the slowest step; otherwise the checker is run in-process.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.history import HistoryError, find_runs, load_run

log = logging.getLogger(__name__)

CHECK_FILE = "check.json"


class CampaignError(Exception):
    """The folder cannot be reported on; the message says why and what to do."""


@dataclass
class Run:
    """One backend's run: what ran (``meta``), what happened (``records``), what the checker
    found (``check``, one entry of the checker JSON's ``runs``)."""

    label: str
    backend: str
    path: Path
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    check: dict[str, Any]


@dataclass
class Campaign:
    path: Path
    runs: list[Run]
    check: dict[str, Any] = field(default_factory=dict)
    check_source: str = ""


def load_campaign(path: Path, check_json: Path | None = None, recheck: bool = False) -> Campaign:
    """Every run under ``path`` with its checker entry.

    ``check_json`` names the checker's output (default ``<path>/check.json``); ``recheck``
    ignores it and runs the checker again.
    """
    path = Path(path)
    try:
        return _load(path, check_json, recheck)
    except HistoryError as error:
        raise CampaignError(str(error)) from None


def _load(path: Path, check_json: Path | None, recheck: bool) -> Campaign:
    run_paths = find_runs([path])
    if not run_paths:
        raise CampaignError(f"{path}: no run folder (a folder with meta.json) found")
    check_json = check_json or path / CHECK_FILE
    if check_json.is_file() and not recheck:
        check = json.loads(check_json.read_text())
        source = str(check_json)
    else:
        check = run_checker(run_paths)
        source = "the checker, run now"
    entries = check.get("runs", [])
    loaded = [load_run(run_path) for run_path in run_paths]
    matched = [match_entry(run.path, run.meta, entries) for run in loaded]
    missing = [run.path for run, entry in zip(loaded, matched) if entry is None]
    if missing:
        log.warning("%s has no entry for %s: checking them now", source,
                    ", ".join(map(str, missing)))
        extra = iter(run_checker(missing)["runs"])
        matched = [entry if entry is not None else next(extra) for entry in matched]
    backends = [entry.get("backend") or run.meta.get("backend") or run.path.name
                for run, entry in zip(loaded, matched)]
    repeated = {name for name, count in Counter(backends).items() if count > 1}
    runs = [
        Run(label=f"{backend} ({run.path.name})" if backend in repeated else backend,
            backend=backend, path=run.path, meta=run.meta, records=run.records, check=entry)
        for backend, run, entry in zip(backends, loaded, matched)
    ]
    return Campaign(path=path, runs=runs, check=check, check_source=source)


def match_entry(run_path: Path, meta: dict[str, Any],
                entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The checker entry for the run at ``run_path``: same folder, else same run id."""
    resolved = run_path.resolve()
    for entry in entries:
        candidate = Path(entry.get("path", ""))
        for base in (Path.cwd(), run_path.parent):
            if (base / candidate).resolve() == resolved:
                return entry
    for entry in entries:
        if meta.get("run") and entry.get("run") == meta.get("run"):
            return entry
    return None


def run_checker(run_paths: list[Path]) -> dict[str, Any]:
    """The checker's JSON for ``run_paths``, computed now by the checker itself (no gates: the
    report evaluates its own)."""
    from analysis.checker import check_run, to_json

    return to_json([check_run(load_run(run_path)) for run_path in run_paths])
