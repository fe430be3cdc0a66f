"""The nemesis against real server processes: a kill restarts the server on its port and
database, a pause outlasts a client's timeout, every fault is a history record the checker
reads; the options that ask for it, and the gates that judge a run with kills.

The whole comparison under kills is in ``test_campaign.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from analysis.gates import Evidence, default_expectation, judge, with_defaults
from analysis.history import load_run
from analysis.verdicts import (
    ANOMALIES_FOUND,
    CONSISTENT,
    EXPECT_CONSISTENT,
    EXPECT_LOST_ACROSS_CRASH,
)
from comparison.nemesis import Nemesis, parse_kinds, pause_s
from comparison.settings import load_settings
from server.process import ServerProcess
from support import ORIGIN


def _post(url: str, body: dict[str, object], timeout: float = 5.0) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Origin": ORIGIN,
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _offer(url: str) -> str:
    body = _post(f"{url}/room/offer", {"peerId": "p", "offer": "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\n"})
    return str(body["code"])


def _run_folder(tmp_path: Path) -> Path:
    """A run folder holding only what the nemesis writes, with a format-2 meta.json."""
    folder = tmp_path / "run"
    (folder / "history").mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"format": 2, "run": "nemesis-only"}))
    return folder


def test_a_killed_server_restarts_on_its_port_and_database(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "s.db") as server:
        url, pid = server.url, server.pid
        code = _offer(url)
        server.kill()
        with pytest.raises(urllib.error.URLError):  # nothing listens between kill and restart
            urllib.request.urlopen(f"{url}/health", timeout=2)
        server.restart()
        assert server.url == url and server.pid != pid
        polled = _post(f"{url}/poll", {"code": code, "side": "answerer"})
        assert polled["offer"] == "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\n"
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    with pytest.raises(RuntimeError, match="restart needs a server that was started before"):
        ServerProcess(tmp_path / "never.db").restart()


def test_a_pause_outlasts_the_clients_timeout_and_is_recorded(tmp_path: Path) -> None:
    """At time scale 0.01 the clients give up after 1 s (their floor): the pause lasts 2 s, so
    a request sent during it times out, and the server answers again once continued."""
    folder = _run_folder(tmp_path)
    with ServerProcess(tmp_path / "s.db") as server:
        nemesis = Nemesis(server, ["pause"], interval_s=1.0, time_scale=0.01,
                          history_dir=folder / "history", until=time.monotonic() + 60,
                          say=lambda _line: None)
        assert nemesis.pause_s == pause_s(0.01) == 2.0
        records: list[dict[str, object]] = []
        paused = threading.Thread(target=lambda: records.append(nemesis.inject("pause")))
        paused.start()
        time.sleep(0.3)  # let SIGSTOP land: the request below must be sent into the pause
        with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(f"{server.url}/health", timeout=1.0)
        paused.join(10)
        with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
            assert response.status == 200
    [record] = records
    assert record["op"] == "fault" and record["kind"] == "pause" and record["type"] == "info"
    assert 2.0e9 <= int(str(record["t1"])) - int(str(record["t0"])) < 4.0e9


def test_the_schedule_kills_in_turn_and_each_kill_is_a_history_record(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    with ServerProcess(tmp_path / "s.db") as server:
        url = server.url
        code = _offer(url)
        said: list[str] = []
        nemesis = Nemesis(server, ["kill"], interval_s=0.2, time_scale=0.1,
                          history_dir=folder / "history", until=time.monotonic() + 5.5,
                          say=said.append).start()
        deadline = time.monotonic() + 30
        while len(nemesis.injected) < 2:
            assert time.monotonic() < deadline, "no two kills in 30 s"
            time.sleep(0.05)
        injected = nemesis.stop()
        assert server.url == url
        assert _post(f"{url}/poll", {"code": code, "side": "answerer"})["offer"]
    # No fault was started that could not end by ``until`` (5.5 s: a kill is planned at 2 s).
    assert 2 <= len(injected) <= 3
    assert all(line.startswith("nemesis: kill for ") for line in said)
    run = load_run(folder)
    assert run.records == []
    assert [fault["kind"] for fault in run.faults] == ["kill"] * len(injected)
    assert [fault["line"] for fault in run.faults] == list(range(1, len(injected) + 1))
    assert all(fault["t0"] < fault["t1"] for fault in run.faults)
    assert "restarted after a 0.5 s gap" in str(run.faults[0]["detail"])


def test_a_fault_that_fails_is_reported_when_the_nemesis_stops(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    server = ServerProcess(tmp_path / "s.db").start()
    server.args += ["--port", "not-a-port"]  # the restart will be refused: a bad setting
    nemesis = Nemesis(server, ["kill"], interval_s=0.1, time_scale=0.1,
                      history_dir=folder / "history", until=time.monotonic() + 60,
                      say=lambda _line: None).start()
    try:
        deadline = time.monotonic() + 30
        while _answers(server.url):  # until the kill
            assert time.monotonic() < deadline, "the server was not killed in 30 s"
            time.sleep(0.05)
        with pytest.raises(RuntimeError, match="the nemesis failed: server did not start"):
            nemesis.stop()  # waits for the restart, which fails
    finally:
        server.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2):
            return True
    except OSError:
        return False


def test_kinds_are_checked_and_named() -> None:
    assert parse_kinds("kill, pause,kill") == ("kill", "pause", "kill")
    with pytest.raises(ValueError, match="flood not among kill, pause"):
        parse_kinds("kill,flood")


@pytest.mark.parametrize("argv, complaint", [
    (["--nemesis", "flood"], "--nemesis: flood not among kill, pause"),
    (["--nemesis", "kill", "--host", "http://127.0.0.1:9"], "a --host target is not ours"),
    (["--nemesis", "kill", "--nemesis-interval", "0"], "--nemesis-interval must be greater"),
])
def test_bad_nemesis_options_exit_2_naming_the_option(argv: list[str], complaint: str) -> None:
    run = subprocess.run([sys.executable, "-m", "loadtests", *argv], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and complaint in run.stderr
    assert "Traceback" not in run.stderr


def test_under_kills_the_default_gates_expect_kv_to_lose_writes_across_the_crash() -> None:
    plain = load_settings(["--backends", "sqlite,kv"])
    killing = load_settings(["--backends", "sqlite,rmw,kv", "--nemesis", "kill", "--quick"])
    paused = load_settings(["--backends", "kv", "--nemesis", "pause"])
    assert [str(e) for e in plain.expect] == ["sqlite=consistent", "kv=lost-writes"]
    assert [str(e) for e in killing.expect] == ["sqlite=consistent", "rmw=lost-writes",
                                                "kv=lost-across-crash"]
    assert [str(e) for e in paused.expect] == ["kv=lost-writes"]
    assert killing.nemesis == ("kill",) and killing.nemesis_interval_s == 2.5
    assert plain.nemesis == () and plain.nemesis_interval_s == 10.0
    # Read back from a check.json, a run with kills gets the same default gate.
    entries = [{"backend": "kv", "durability": {"kills": 2}}, {"backend": "sqlite"}]
    assert [str(e) for e in with_defaults([], entries)] == ["kv=lost-across-crash",
                                                            "sqlite=consistent"]
    assert default_expectation("sqlite", kills=True) == EXPECT_CONSISTENT


def test_the_lost_across_crash_gate_needs_a_kill_and_a_write_lost_in_it() -> None:
    def evidence(kills: int, before: int, lost: int) -> Evidence:
        return Evidence(operations=100, verdict=ANOMALIES_FOUND if lost else CONSISTENT,
                        reason="r", kills=kills, acknowledged_before=before, lost_across=lost)

    caught = judge(EXPECT_LOST_ACROSS_CRASH, evidence(2, 40, 12))
    assert caught.passed and "12 of 40 writes acknowledged before 2 kills" in caught.message
    never = judge(EXPECT_LOST_ACROSS_CRASH, evidence(0, 0, 0))
    assert never.passed is False and "never killed" in never.message
    toothless = judge(EXPECT_LOST_ACROSS_CRASH, evidence(1, 30, 0))
    assert toothless.passed is False and "lost its teeth" in toothless.message
    # A store expected consistent fails on a write lost across a kill, even with no anomaly.
    durable = judge(EXPECT_CONSISTENT, evidence(1, 30, 1))
    assert durable.passed is False and "1 of 30 writes acknowledged before a kill" in \
        durable.message
