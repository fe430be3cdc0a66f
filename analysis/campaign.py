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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.checker import check_run, run_to_json
from analysis.checker.evidence import DEFAULT_MIN_VERIFIED
from analysis.history import HistoryError, LoadedRun, Record, find_runs, load_run

log = logging.getLogger(__name__)

CHECK_FILE = "check.json"


class CampaignError(Exception):
    """The folder cannot be reported on; the message says why and what to do."""


@dataclass
class Run:
    """One run of a comparison: the loaded history (what ran and what happened) and what the
    checker found (``check``, one entry of the checker JSON's ``runs``)."""

    label: str
    """What the report calls it: its backend, or backend and folder where a backend repeats."""
    loaded: LoadedRun
    check: dict[str, Any]

    @property
    def backend(self) -> str:
        return self.loaded.backend

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def meta(self) -> dict[str, Any]:
        return self.loaded.meta

    @property
    def records(self) -> list[Record]:
        return self.loaded.records


@dataclass
class Campaign:
    path: Path
    runs: list[Run]
    check_source: str = ""
    """Where the checker's verdicts came from: a check.json, or the checker run now."""
    check_file: Path | None = None
    """The check.json the verdicts came from, if they came from one."""


def load_campaign(path: Path, check_json: Path | None = None, recheck: bool = False,
                  min_verified: float = DEFAULT_MIN_VERIFIED) -> Campaign:
    """Every run under ``path`` with its checker entry.

    ``check_json`` names the checker's output (default ``<path>/check.json``); ``recheck``
    ignores it and runs the checker again (with ``min_verified``, as ``--min-verified``).
    """
    path = Path(path)
    try:
        return _load(path, check_json, recheck, min_verified)
    except HistoryError as error:
        raise CampaignError(str(error)) from None


def _load(path: Path, check_json: Path | None, recheck: bool, min_verified: float) -> Campaign:
    run_paths = find_runs([path])
    check_json = check_json or path / CHECK_FILE
    if check_json.is_file() and not recheck:
        try:
            check = json.loads(check_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CampaignError(f"{check_json}: not the checker's JSON ({error}); "
                                "use --recheck to check the histories again") from None
        source, check_file = str(check_json), check_json
    else:
        check, source, check_file = {}, "the checker, run now", None
    loaded = [load_run(run_path) for run_path in run_paths]
    entries = check.get("runs", []) if isinstance(check, dict) else []
    matched = [match_entry(run.path, run.meta, entries) for run in loaded]
    missing = [run for run, entry in zip(loaded, matched) if entry is None]
    if missing and entries:
        log.warning("%s has no entry for %s: checking them now", source,
                    ", ".join(str(run.path) for run in missing))
    fresh = iter(run_to_json(check_run(run, min_verified)) for run in missing)
    matched = [entry if entry is not None else next(fresh) for entry in matched]
    return campaign_of(path, loaded, matched, source, check_file)


def campaign_of(path: Path, loaded: list[LoadedRun], entries: list[dict[str, Any]],
                source: str, check_file: Path | None = None) -> Campaign:
    """A comparison from runs already loaded and checked (``entries`` in the same order), so
    that whoever just checked them does not read the histories a second time; ``check_file``
    is the check.json they were written to, if any."""
    backends = [run.backend for run in loaded]
    repeated = {name for name, count in Counter(backends).items() if count > 1}
    runs = [
        Run(label=f"{run.backend} ({run.path.name})" if run.backend in repeated else run.backend,
            loaded=run, check=entry)
        for run, entry in zip(loaded, entries)
    ]
    return Campaign(path=path, runs=runs, check_source=source, check_file=check_file)


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
