"""Distributed Locust runs: every operation Locust counted is in a history, in the master's folder.

Locust runs as real commands (no Locust import here) against a real server: ``--processes 2``
(a master forking two workers), and a master with two workers started as separate processes, as
on three machines, each worker in a folder of its own with its own ``--history-dir``, so nothing
is shared on disk: the workers' lines reach the master's run folder over Locust's own messages
(``loadtests/_streaming.py``). The master's statistics (``--csv``; a forked worker would
overwrite ``--json-file``) are compared with the histories: every operation Locust counted is
recorded, and the final reads of every session touched are there too; the checker then checks
the master's folder alone.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from server.pgcluster import free_port
from server.process import ServerProcess, stop_process
from support import ROOT

LOAD = ["--headless", "-u", "6", "-r", "6", "-t", "4", "--only-summary", "--time-scale", "0.2"]


def assert_recorded_everything(history: Path, stats_csv: Path, workers: int) -> None:
    files = sorted(history.glob("*.jsonl"))
    assert len(files) == workers, files
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    load = [r for r in records if not r.get("final")]
    recorded = Counter(r["op"] for r in load
                       if not str(r.get("error", "")).startswith("interrupted"))
    counted: Counter[str] = Counter()
    with stats_csv.open() as stats:
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


@pytest.mark.timeout(120)
def test_two_processes_record_everything_locust_counted(tmp_path: Path,
                                                       sqlite_server: ServerProcess) -> None:
    history = tmp_path / "run" / "history"
    command = [sys.executable, "-m", "locust", "-f", "loadtests", "--processes", "2", *LOAD,
               "--host", sqlite_server.url, "--history-dir", str(history),
               "--csv", str(tmp_path / "locust")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_recorded_everything(history, tmp_path / "locust_stats.csv", workers=2)
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["backend"] == "sqlite" and meta["users"] == 6


@pytest.mark.timeout(180)
def test_a_master_and_two_separate_workers_share_no_disk(tmp_path: Path,
                                                         sqlite_server: ServerProcess) -> None:
    port = str(free_port())
    master_dir = tmp_path / "master"
    master_dir.mkdir()
    worker_dirs = [tmp_path / f"worker-{n}" for n in (1, 2)]
    locustfiles = str(ROOT / "loadtests")
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", locustfiles, "--master", "--master-bind-host",
         "127.0.0.1", "--master-bind-port", port, "--expect-workers", "2", *LOAD,
         "--host", sqlite_server.url, "--history-dir", "run/history", "--csv", "locust"],
        cwd=master_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = []
    for folder in worker_dirs:
        folder.mkdir()
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", locustfiles, "--worker", "--master-host",
             "127.0.0.1", "--master-port", port, "--history-dir", str(folder / "history")],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        output, _ = master.communicate(timeout=120)
        assert master.returncode == 0, output[-3000:]
        deadline = time.monotonic() + 30
        for worker in workers:
            assert worker.wait(max(1.0, deadline - time.monotonic())) == 0
    finally:
        for process in (master, *workers):
            stop_process(process, 10)
    for folder in worker_dirs:  # a worker writes nothing where it runs: its lines went over
        assert not list(folder.rglob("*.jsonl")), list(folder.rglob("*"))
    run = master_dir / "run"
    assert_recorded_everything(run / "history", master_dir / "locust_stats.csv", workers=2)
    check = subprocess.run([sys.executable, "-m", "analysis", "check", str(run), "--json",
                            str(tmp_path / "check.json")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    checked = json.loads((tmp_path / "check.json").read_text())["runs"][0]
    lines = sum(len(path.read_text().splitlines()) for path in (run / "history").glob("*.jsonl"))
    assert checked["operations"] == lines and checked["verdict"] == "consistent"
    assert checked["sessions"] > 10
