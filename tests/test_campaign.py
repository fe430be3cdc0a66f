"""``python -m loadtests`` end to end: the quick comparison of every store, Ctrl-C and SIGTERM.

All run the real thing in subprocesses (servers, Locust, PostgreSQL, checker, report), so this
is also where a broken seam between the parts shows up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from server.pgcluster import find_binaries
from server.stores import BACKENDS
from support import IN_CI


def needs_postgresql() -> None:
    if find_binaries() is None and not IN_CI:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")


@pytest.mark.timeout(600)
def test_quick_campaign_on_two_servers_gates_pass_consistent_stores_baselines_not(
        tmp_path: Path) -> None:
    """Every store, each (but kv, in one process's memory) as two servers on one database with
    the peers of each scenario spread over them; the postgres stores on a throwaway cluster."""
    needs_postgresql()
    output = tmp_path / "campaign"
    run = subprocess.run([sys.executable, "-m", "loadtests", "--quick", "--servers", "2",
                          "--output", str(output)],
                         capture_output=True, text=True, timeout=540)
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert run.returncode == 0
    assert run.stdout.strip().splitlines()[-1] == str(output / "report.html")
    for backend in BACKENDS:
        assert (output / backend / "meta.json").is_file()
        assert list((output / backend / "history").glob("*.jsonl"))
        assert (output / backend / "locust" / "locust_stats.csv").is_file()
        servers = 1 if backend == "kv" else 2
        hosts = json.loads((output / backend / "meta.json").read_text())["hosts"]
        assert len(hosts) == (servers if servers > 1 else 0)
        assert len(list((output / backend).glob("server*.log"))) == servers
    for name in ("check.json", "report.html", "summary.md", "summary.json"):
        assert (output / name).stat().st_size > 0
    assert list((output / "plots").glob("*.png")) and list((output / "plots").glob("*.svg"))
    verdicts = {r["backend"]: r["verdict"] for r in json.loads(
        (output / "check.json").read_text())["runs"]}
    assert verdicts == {"sqlite": "consistent", "rmw": "anomalies found", "kv": "anomalies found",
                        "postgres": "consistent", "rmw-postgres": "anomalies found"}
    assert "rmw: known to lose writes, and caught losing" in run.stdout
    assert "rmw-postgres: known to lose writes, and caught losing" in run.stdout
    assert "sqlite: expected consistent, and found consistent" in run.stdout
    assert "postgres: expected consistent, and found consistent" in run.stdout
    assert f"[kv 3/{len(BACKENDS)}]" in run.stdout and "requests" in run.stdout  # progress
    assert not (output / "pgcluster").exists()  # the throwaway cluster is gone


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_ctrl_c_stops_everything_and_keeps_the_history(tmp_path: Path) -> None:
    output = tmp_path / "interrupted"
    campaign = subprocess.Popen(
        [sys.executable, "-m", "loadtests", "--backends", "sqlite", "--duration", "60",
         "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    history = output / "sqlite" / "history"
    deadline = time.monotonic() + 60
    while not any(f.stat().st_size > 10_000 for f in history.glob("*.jsonl")):
        assert campaign.poll() is None and time.monotonic() < deadline, "no history recorded"
        time.sleep(0.2)
    os.killpg(campaign.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the whole group
    _, stderr = campaign.communicate(timeout=90)
    assert campaign.returncode == 130, stderr
    assert "interrupted" in stderr and str(output) in stderr
    deadline = time.monotonic() + 30
    while _group_alive(campaign.pid):
        assert time.monotonic() < deadline, "a server or Locust process outlived the campaign"
        time.sleep(0.2)
    check = subprocess.run([sys.executable, "-m", "analysis", "check", str(output)],
                           capture_output=True, text=True, timeout=120)
    # sqlite loses nothing, interrupted or not: its history is consistent (exit 0), or at worst
    # inconclusive (exit 3) should too few sessions be verifiable; never anomalies (1), and
    # never unreadable (2).
    verdicts = {0: "verdict: consistent", 3: "verdict: inconclusive"}
    assert check.returncode in verdicts, check.stdout[-3000:] + check.stderr
    assert verdicts[check.returncode] in check.stdout
    assert "anomalies found" not in check.stdout
    assert "checked" in check.stdout


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_sigterm_stops_everything_the_postgres_cluster_included(tmp_path: Path) -> None:
    """SIGTERM to the comparison alone (as a supervisor sends it): its servers, Locust and the
    throwaway PostgreSQL cluster (in a session of its own) are stopped, the cluster's folder is
    removed, and the history kept is consistent."""
    needs_postgresql()
    # Where the cluster's user (postgres, when the tests run as root) can reach the run folder.
    output = Path(tempfile.mkdtemp(prefix="harness-sigterm-")) / "terminated"
    output.parent.chmod(0o755)
    campaign = subprocess.Popen(
        [sys.executable, "-m", "loadtests", "--backends", "postgres", "--servers", "2",
         "--duration", "60", "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    history = output / "postgres" / "history"
    deadline = time.monotonic() + 90
    while not any(f.stat().st_size > 10_000 for f in history.glob("*.jsonl")):
        assert campaign.poll() is None and time.monotonic() < deadline, "no history recorded"
        time.sleep(0.2)
    postmaster = int((output / "pgcluster" / "data" / "postmaster.pid").read_text().split()[0])
    assert _alive(postmaster)
    campaign.send_signal(signal.SIGTERM)
    _, stderr = campaign.communicate(timeout=90)
    assert campaign.returncode == 130, stderr
    assert "interrupted" in stderr
    deadline = time.monotonic() + 30
    while _group_alive(campaign.pid) or _alive(postmaster):
        assert time.monotonic() < deadline, "a process outlived the campaign"
        time.sleep(0.2)
    assert not (output / "pgcluster").exists()
    check = subprocess.run([sys.executable, "-m", "analysis", "check", str(output)],
                           capture_output=True, text=True, timeout=120)
    shutil.rmtree(output.parent)
    assert check.returncode in (0, 3), check.stdout[-3000:] + check.stderr
    assert "anomalies found" not in check.stdout


def test_without_postgresql_the_comparison_says_how_to_install_it(tmp_path: Path) -> None:
    """PATH without PostgreSQL, and a Debian folder that does not hold it: one line, status 2."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    run = subprocess.run(
        [sys.executable, "-c", "import sys, server.pgcluster as c, pathlib; "
         "c.DEBIAN_BINARIES = pathlib.Path(sys.argv[1]); "
         "from comparison.__main__ import main; sys.exit(main(sys.argv[2:]))",
         str(tmp_path / "none"), "--backends", "postgres", "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install -y postgresql" in lines[0], run.stderr
    assert not (tmp_path / "out").exists()
