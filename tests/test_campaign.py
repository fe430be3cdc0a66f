"""``python -m loadtests`` end to end: the quick comparison of every store, Ctrl-C and SIGTERM,
and a used ``--output`` folder.

All run the real thing in subprocesses (servers, Locust, PostgreSQL, checker, report), so this
is also where a broken seam between the parts shows up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.pgcluster import find_binaries
from server.stores import BACKENDS
from support import CHECKER_CASES, IN_CI
from support.commands import run as harness


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
    lines = run.stdout.strip().splitlines()
    assert lines[-2] == f"report: {output / 'report.html'}"
    assert lines[-1].startswith("exit 0: the harness's gates held (sqlite consistent, rmw lost ")
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
    runs = {r["backend"]: r for r in json.loads((output / "check.json").read_text())["runs"]}
    verdicts = {backend: run["verdict"] for backend, run in runs.items()}
    assert verdicts == {"sqlite": "consistent", "rmw": "anomalies found", "kv": "anomalies found",
                        "postgres": "consistent", "rmw-postgres": "anomalies found"}
    # The seed's failure, reproduced: kv erases acknowledged answers through stale ICE candidate
    # updates (the checker names each culprit candidate write); sqlite never does.
    erased = {backend: run["anomalies"]["lost-answer"]["erased_by"]
              for backend, run in runs.items()}
    by_candidates = {backend: counts["offerer-candidate"] + counts["answerer-candidate"]
                     for backend, counts in erased.items()}
    assert by_candidates["kv"] > 0
    assert by_candidates["sqlite"] == by_candidates["postgres"] == 0
    assert runs["sqlite"]["anomalies"]["lost-answer"]["by_cause"] == {"erased": 0,
                                                                     "overwritten": 0}
    kv_example = next(e for e in runs["kv"]["anomalies"]["lost-answer"]["examples"]
                      if e["cause"] == "erased" and e["culprit"])
    [culprit] = [op for op in kv_example["ops"]
                 if (op["file"], op["line"]) == (kv_example["culprit"]["file"],
                                                 kv_example["culprit"]["line"])]
    assert culprit["op"] == "candidate" and culprit["type"] == "ok"
    summary = (output / "summary.md").read_text()
    line = next(text for text in summary.splitlines()
                if text.startswith("Answers erased by stale ICE"))
    assert f"{by_candidates['kv']} (kv)" in line and "0 (sqlite)" in line
    assert (output / "plots" / "erased-answer.png").stat().st_size > 0
    assert "rmw: known to lose writes, and caught losing" in run.stdout
    assert "rmw-postgres: known to lose writes, and caught losing" in run.stdout
    assert "sqlite: expected consistent, and found consistent" in run.stdout
    assert "postgres: expected consistent, and found consistent" in run.stdout
    assert f"[kv 3/{len(BACKENDS)}]" in run.stdout and "requests" in run.stdout  # progress
    assert not (output / "pgcluster").exists()  # the throwaway cluster is gone


@pytest.mark.timeout(420)  # beyond its commands' own timeouts, which then fire first
def test_quick_nemesis_kills_sqlite_stays_consistent_kv_loses_writes_across_the_crash(
        tmp_path: Path) -> None:
    """The negative control: kv keeps its data in memory, so a kill loses what it had
    acknowledged; sqlite, killed the same way, loses nothing."""
    output = tmp_path / "nemesis"
    run = subprocess.run([sys.executable, "-m", "loadtests", "--quick", "--backends", "sqlite,kv",
                          "--nemesis", "kill", "--output", str(output)],
                         capture_output=True, text=True, timeout=300)
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert run.returncode == 0
    assert "[sqlite 1/2] nemesis: kill for " in run.stdout
    runs = {r["backend"]: r for r in json.loads((output / "check.json").read_text())["runs"]}
    sqlite, kv = runs["sqlite"], runs["kv"]
    for found in (sqlite, kv):
        assert found["faults"] and {fault["kind"] for fault in found["faults"]} == {"kill"}
        assert found["durability"]["kills"] == len(found["faults"]) >= 1
        assert all(0 < f["start"] < f["end"] for f in found["faults"])
    assert sqlite["verdict"] == "consistent"
    assert sqlite["durability"]["lost_across"] == 0
    assert sqlite["durability"]["acknowledged_before"] > 0
    assert kv["verdict"] == "anomalies found"
    assert 0 < kv["durability"]["lost_across"] <= kv["durability"]["acknowledged_before"]
    example = kv["durability"]["examples"][0]
    assert example["fault"]["file"].startswith("history/nemesis-")
    assert all(op["file"] and op["line"] for op in example["ops"])
    gates = {g["backend"]: g for g in json.loads((output / "check.json").read_text())["gates"]}
    assert gates["kv"]["expect"] == "lost-across-crash" and gates["kv"]["passed"]
    assert gates["sqlite"]["expect"] == "consistent" and gates["sqlite"]["passed"]
    summary = (output / "summary.md").read_text()
    [faults] = [line for line in summary.splitlines() if line.startswith("| faults injected while")]
    assert faults.count(" kill") == 2 and faults.count(" s)") == 2
    [durability] = [line for line in summary.splitlines() if line.startswith("| durability: ")]
    assert f"✘ {kv['durability']['lost_across']:,} of " in durability
    assert "✔ none of " in durability
    assert (output / "plots" / "timeline-kv-lost-across-crash.png").stat().st_size > 0
    assert run.stdout.strip().splitlines()[-1].startswith(
        "exit 0: the harness's gates held (sqlite consistent, kv lost ")


@pytest.mark.timeout(420)  # beyond its commands' own timeouts, which then fire first
def test_every_store_runs_at_one_arrival_rate_and_every_repeat_is_checked_and_gated(
        tmp_path: Path) -> None:
    """Two runs of sqlite at 1 session per model second (10 a wall second at time scale 0.1):
    a run folder each, both checked and gated, the rate printed, given as Locust's pacing and
    met, and the report's price tag summarising both runs."""
    output = tmp_path / "repeated"
    done = harness("loadtests", "--backends", "sqlite", "--repeat", "2", "--arrival-rate", "1",
                   "--duration", "8", "--output", output, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ("arrival rate 10 sessions per wall second (1 per model second) for every store, "
            "open loop: 40 users, each starting a session every 4 wall s; 2 runs of each store"
            in done.stdout)
    assert sorted(p.name for p in output.iterdir() if (p / "meta.json").is_file()) == [
        "sqlite-1", "sqlite-2"]
    check = json.loads((output / "check.json").read_text())
    assert [(Path(r["path"]).name, r["backend"], r["verdict"]) for r in check["runs"]] == [
        ("sqlite-1", "sqlite", "consistent"), ("sqlite-2", "sqlite", "consistent")]
    assert [(g["run"], g["passed"]) for g in check["gates"]] == [
        ("repeated-sqlite-1", True), ("repeated-sqlite-2", True)]
    for name in ("sqlite-1", "sqlite-2"):
        meta = json.loads((output / name / "meta.json").read_text())
        assert meta["users"] == 40 and meta["client"]["pacing_s"] == pytest.approx(4.0)
        rate = float(next(line for line in done.stdout.splitlines()
                          if line.startswith(f"{name}: ")).split()[1])
        assert 8.5 <= rate <= 11.5, f"{name} started {rate} sessions/s, given 10"
    summary = json.loads((output / "summary.json").read_text())
    [tag] = summary["price"]
    assert tag["backend"] == "sqlite" and tag["runs"] == ["sqlite (sqlite-1)", "sqlite (sqlite-2)"]
    assert tag["target_rate"]["median"] == pytest.approx(10.0)
    poll = tag["ops"]["poll"]["client_ms"]["p50"]
    assert poll["runs"] == 2 and poll["min"] <= poll["median"] <= poll["max"]
    assert "The price tag: latency at the same arrival rate" in (output / "summary.md").read_text()
    # The first screen keeps a column per store, and the headline an entry per store.
    assert summary["first_screen"]["stores"] == ["sqlite (2 runs)"]
    assert summary["headline"] == "sqlite consistent (2 of 2 runs)"
    assert done.stdout.strip().splitlines()[-1] == (
        "exit 0: the harness's gates held (sqlite consistent (2 of 2 runs))")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _comparison(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m loadtests <args>`` in a process group of its own, which is killed whole if
    the test fails before the comparison ended, so no server, Locust or cluster outlives it."""
    campaign = subprocess.Popen([sys.executable, "-m", "loadtests", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    try:
        yield campaign
    finally:
        if _group_alive(campaign.pid):
            os.killpg(campaign.pid, signal.SIGKILL)
        campaign.communicate(timeout=30)


def _wait_for_history(campaign: subprocess.Popen[str], history: Path, seconds: float) -> None:
    """Until the comparison's history holds some load (a file over 10 kB)."""
    deadline = time.monotonic() + seconds
    while not any(f.stat().st_size > 10_000 for f in history.glob("*.jsonl")):
        assert campaign.poll() is None and time.monotonic() < deadline, "no history recorded"
        time.sleep(0.2)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
@pytest.mark.parametrize("signum, to_group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c to the group", "sigterm to the campaign alone"])
def test_a_stop_signal_stops_everything_and_keeps_the_history(
        tmp_path: Path, signum: signal.Signals, to_group: bool) -> None:
    """Ctrl-C reaches every process of the terminal's group; a CI timeout's SIGTERM reaches the
    campaign alone, which must stop its server and Locust itself."""
    output = tmp_path / "interrupted"
    history = output / "sqlite" / "history"
    with _comparison("--backends", "sqlite", "--duration", "60", "--repeat", "1",
                     "--output", str(output)) as campaign:
        _wait_for_history(campaign, history, 60)
        if to_group:
            os.killpg(campaign.pid, signum)
        else:
            campaign.send_signal(signum)
        _, stderr = campaign.communicate(timeout=90)
        assert campaign.returncode == 128 + signum, stderr
        assert f"interrupted ({signum.name}): every process started here is stopped" in stderr
        assert str(output) in stderr
        deadline = time.monotonic() + 30
        while _group_alive(campaign.pid):
            assert time.monotonic() < deadline, "a server or Locust process outlived the campaign"
            time.sleep(0.2)
    check = harness("analysis", "check", output)
    # sqlite loses nothing, interrupted or not: its history is consistent (exit 0), or at worst
    # inconclusive (exit 3) should too few sessions be verifiable; never anomalies (1), and
    # never unreadable (2).
    verdicts = {0: "verdict: consistent", 3: "verdict: inconclusive"}
    assert check.returncode in verdicts, check.stdout[-3000:] + check.stderr
    assert verdicts[check.returncode] in check.stdout
    assert "anomalies found" not in check.stdout
    assert "checked" in check.stdout
    meta = json.loads((history.parent / "meta.json").read_text())
    assert meta["settling"]["mode"] == "fixed" and meta["settling"]["rounds"] == 1
    finals = [line for f in history.glob("*.jsonl") for line in f.read_text().splitlines()
              if '"final":true' in line]
    assert finals, "the final reads were taken after the stop"


def test_a_used_output_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """Runs already in --output would be read with the new ones and judged under the wrong
    store's expectation: the comparison refuses the folder instead."""
    output = tmp_path / "used"
    shutil.copytree(CHECKER_CASES / "lost-candidate", output / "sqlite")
    before = sorted(str(p.relative_to(output)) for p in output.rglob("*"))
    done = harness("loadtests", "--backends", "rmw", "--duration", "3", "--output", output)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"python -m loadtests: error: --output {output} already holds "
                                   "sqlite/ (an earlier run?): only the runs made now may be "
                                   "judged, so choose a new folder")
    assert sorted(str(p.relative_to(output)) for p in output.rglob("*")) == before
    assert done.stdout == ""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(420)  # beyond its commands' own timeouts, which then fire first
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_sigterm_stops_everything_the_postgres_cluster_included(tmp_path: Path) -> None:
    """SIGTERM to the comparison alone (as a supervisor sends it): its servers, Locust and the
    throwaway PostgreSQL cluster (in a session of its own) are stopped, the cluster's folder is
    removed, and the history kept is consistent."""
    needs_postgresql()
    # Where the cluster's user (postgres, when the tests run as root) can reach the run folder.
    output = Path(tempfile.mkdtemp(prefix="harness-sigterm-")) / "terminated"
    output.parent.chmod(0o755)
    history = output / "postgres" / "history"
    try:
        with _comparison("--backends", "postgres", "--servers", "2", "--duration", "60",
                         "--repeat", "1", "--output", str(output)) as campaign:
            _wait_for_history(campaign, history, 90)
            postmaster = int((output / "pgcluster" / "data" / "postmaster.pid").read_text()
                             .split()[0])
            assert _alive(postmaster)
            campaign.send_signal(signal.SIGTERM)
            _, stderr = campaign.communicate(timeout=90)
            assert campaign.returncode == 128 + signal.SIGTERM, stderr
            assert "interrupted" in stderr
            deadline = time.monotonic() + 30
            while _group_alive(campaign.pid) or _alive(postmaster):
                assert time.monotonic() < deadline, "a process outlived the campaign"
                time.sleep(0.2)
        assert not (output / "pgcluster").exists()
        check = harness("analysis", "check", output, timeout=120)
    finally:
        shutil.rmtree(output.parent, ignore_errors=True)
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
