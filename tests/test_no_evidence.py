"""Runs that prove nothing must never be called consistent: ``python -m loadtests --host`` against
targets that answer nothing useful, and the checker on histories with nothing to check.

Each case is a real process on loopback (a closed port, a server answering 500 to everything,
one that never answers, a Locust run killed before its final reads) and each test holds the
command to its verdict, its exit status (3, inconclusive) and the words a person reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.pgcluster import free_port  # a port bound, then released: nobody listens
from server.process import ServerProcess
from support import ROOT
from support.commands import check, last_line, run
from support.targets import Target

# Four users, each starting a session every second (at time scale 1), the first within the first
# second of load (a target that never answers has the load tests wait 2 s of the 3 for its
# settings); the stop timeout outlasts a failed create's back-off.
QUICK = ("--duration", "3", "--arrival-rate", "4", "--pacing", "1", "--repeat", "1",
         "--stop-timeout", "2")


def compare_host(url: str, output: Path, name: str = "target", *extra: str
                 ) -> subprocess.CompletedProcess[str]:
    done = run("loadtests", "--host", url, "--name", name, *QUICK, "--output", output, *extra,
               timeout=180)
    print(done.stdout[-3000:], done.stderr[-3000:])
    return done


def assert_inconclusive(done: subprocess.CompletedProcess[str], output: Path, name: str,
                        words: str) -> None:
    """Exit 3, the last line saying so and why, the same verdict in check.json and the report,
    and no green mark or PASS anywhere for the target."""
    assert done.returncode == 3, done.stderr
    assert last_line(done) == f"exit 3: {name} inconclusive: no session could be verified: {words}"
    [entry] = json.loads((output / "check.json").read_text())["runs"]
    assert entry["verdict"] == "inconclusive"
    assert entry["reason"] == f"no session could be verified: {words}"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["exit_status"] == 3 and summary["gates"] == []
    assert summary["verdicts"] == [{"tone": "unknown", "text": f"{name}: cannot tell whether it "
                                    f"loses writes (inconclusive): no session could be verified: "
                                    f"{words}"}]
    page = (output / "report.html").read_text()
    assert "PASS" not in page and '<li class="ok">' not in page
    assert "Harness gates: none set" in page
    assert json.loads((output / name / "meta.json").read_text())["time_scale"] == 1.0


def test_a_closed_port_is_inconclusive(tmp_path: Path) -> None:
    output = tmp_path / "closed"
    done = compare_host(f"http://127.0.0.1:{free_port()}", output, "x")
    requests = json.loads((output / "check.json").read_text())["runs"][0]["coverage"]
    assert requests["no_response"] == requests["under_load"] > 0
    n = requests["under_load"]
    assert_inconclusive(done, output, "x", f"{n:,} of {n:,} requests got no response")
    # The clients back off after a failed create, as a browser would, rather than loop: at most
    # a session a second each, and a failed create's session ends there.
    assert n <= 16, f"{n} requests from 4 users in 3 s: the back-off is not working"


def test_a_server_answering_500_to_everything_is_inconclusive(tmp_path: Path) -> None:
    output = tmp_path / "errors"
    with Target("error-500") as target:
        done = compare_host(target.url, output, "broken")
    coverage = json.loads((output / "check.json").read_text())["runs"][0]["coverage"]
    n, cut = coverage["under_load"], coverage["no_response"]
    # A create the load's stop cut off in flight is the only request without an answer.
    assert cut <= 1 and coverage["server_errors"] == n - cut > 0
    words = (f"{n:,} of {n:,} requests were answered 5xx" if not cut else
             f"{n:,} of {n:,} requests failed (1 got no response, {n - 1:,} were answered 5xx)")
    assert_inconclusive(done, output, "broken", words)
    summary = json.loads((output / "summary.json").read_text())
    [store] = summary["stores"]
    assert store["availability"]["refused_writes"] == [
        {"reason": "500 Internal Server Error (HTTP 500)", "count": n - cut}]
    assert "500: 500 Internal Server Error" in store["locust_failures"][0]["error"]


def test_a_server_that_never_answers_is_inconclusive(tmp_path: Path) -> None:
    output = tmp_path / "stalled"
    with Target("stall") as target:
        done = compare_host(target.url, output, "slow")
    n = json.loads((output / "check.json").read_text())["runs"][0]["coverage"]["under_load"]
    assert n > 0
    assert_inconclusive(done, output, "slow", f"{n:,} of {n:,} requests got no response")


def test_an_expectation_still_decides_the_exit_status(tmp_path: Path) -> None:
    output = tmp_path / "gated"
    done = compare_host(f"http://127.0.0.1:{free_port()}", output, "x", "--expect",
                        "x=consistent")
    assert done.returncode == 1
    assert last_line(done).startswith("exit 1: 1 of 1 harness gates FAILED (x: expected "
                                      "consistent, but the run is inconclusive: no session")


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_a_locust_run_killed_before_its_final_reads_is_inconclusive(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    with ServerProcess(tmp_path / "s.db") as server:
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests"), "--headless",
             "--host", server.url, "-u", "4", "-r", "4", "-t", "60s", "--time-scale", "0.2",
             "--history-dir", str(run_dir / "history"), "IceTrickle"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        history = run_dir / "history"
        try:
            deadline = time.monotonic() + 60
            while not any(f.stat().st_size > 20_000 for f in history.glob("*.jsonl")):
                assert locust.poll() is None and time.monotonic() < deadline, "nothing recorded"
                time.sleep(0.1)
        finally:  # also when nothing was recorded: no Locust outlives the test
            with contextlib.suppress(ProcessLookupError):  # it may have ended by itself
                os.killpg(locust.pid, signal.SIGKILL)  # no final reads, perhaps half a line
            locust.wait(30)
    done = check(run_dir)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "verdict: inconclusive: 0 of " in done.stdout
    assert "sessions could be verified (at least 50% needed): " in done.stdout
    assert "were not read after settling (no final read answered)" in done.stdout
    assert last_line(done) == "overall: inconclusive (exit 3)"
