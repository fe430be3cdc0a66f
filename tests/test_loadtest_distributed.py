"""``locust -f loadtests --headless --processes 2``: two workers, two history files, nothing lost.

Runs Locust as a real command (no Locust import here) against a real server, then compares the
master's statistics (``--csv``; a forked worker would overwrite ``--json-file``) with the two workers' histories: every operation Locust
counted is in a history, and the final reads of every session touched are there too.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from server.process import ServerProcess
from support import ROOT


@pytest.mark.timeout(120)
def test_two_processes_record_everything_locust_counted(tmp_path: Path,
                                                       sqlite_server: ServerProcess) -> None:
    history = tmp_path / "run" / "history"
    command = [
        sys.executable, "-m", "locust", "-f", "loadtests", "--headless", "--processes", "2",
        "--host", sqlite_server.url, "-u", "6", "-r", "6", "-t", "4", "--only-summary",
        "--history-dir", str(history), "--time-scale", "0.2", "--csv", str(tmp_path / "locust"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(history.glob("*.jsonl"))
    assert len(files) == 2, (files, done.stderr[-3000:])
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    load = [r for r in records if not r.get("final")]
    recorded = Counter(r["op"] for r in load
                       if not str(r.get("error", "")).startswith("interrupted"))
    counted = Counter()
    with (tmp_path / "locust_stats.csv").open() as stats:
        for row in csv.DictReader(stats):
            if row["Type"] not in ("FLOW", ""):
                counted[row["Name"]] += int(row["Request Count"])
    assert sum(counted.values()) > 100
    missing = {op: n - recorded[op] for op, n in counted.items() if n > recorded[op]}
    assert not missing, f"Locust counted operations no history holds: {missing}"
    touched = {r["session"] for r in load if r["session"] and r["op"] != "list"}
    finally_read = {r["session"] for r in records if r.get("final")}
    assert touched and touched <= finally_read
    assert {r["client"].split("/")[1] for r in records} == {p.stem.rsplit("-", 1)[1] for p in files}
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["backend"] == "sqlite" and meta["users"] == 6
