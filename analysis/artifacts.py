"""The files beside a run's history that the report points to: Locust's own output, the server's
log, the checker's JSON.

The comparison writes them into each run folder (``locust/report.html``, ``locust/locust_*.csv``
from Locust's ``--html`` and ``--csv``, ``server.log`` from the server it started); a run made
by hand may have none of them, so each is looked for and only what exists is named. Links are
relative to the report's folder, so they still work when the whole folder is copied elsewhere
(a CI artifact, a mail attachment unpacked).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

LOCUST_FAILURES = Path("locust") / "locust_failures.csv"
LINKED = (
    ("Locust's report", Path("locust") / "report.html"),
    ("server log", Path("server.log")),
    ("history", Path("history")),
)


def locust_failures(run_path: Path) -> list[dict[str, Any]]:
    """Locust's failure table (``<prefix>_failures.csv``: one row per method, name and message),
    most frequent first; empty when the run has none."""
    try:
        with (run_path / LOCUST_FAILURES).open(newline="", encoding="utf-8") as handle:
            rows = [{"method": row.get("Method", ""), "name": row.get("Name", ""),
                     "error": row.get("Error", ""), "occurrences": int(row.get("Occurrences") or 0)}
                    for row in csv.DictReader(handle)]
    except (OSError, ValueError, csv.Error):
        return []
    return sorted(rows, key=lambda row: -row["occurrences"])


def links(run_path: Path, output: Path, check_json: Path | None) -> list[dict[str, str]]:
    """``{"label", "href"}`` for each of the run's files that exists, relative to ``output``
    (a folder ends in ``/``, so a browser lists it)."""
    found = [(label, run_path / relative) for label, relative in LINKED]
    if check_json is not None:
        found.append(("check.json", check_json))
    return [{"label": label, "href": relative_href(path, output)}
            for label, path in found if path.exists()]


def relative_href(path: Path, output: Path) -> str:
    """``path`` as a link from a page in ``output``: relative, with ``/`` separators."""
    href = Path(os.path.relpath(path.resolve(), output.resolve())).as_posix()
    return href + "/" if path.is_dir() else href
