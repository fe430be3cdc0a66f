"""``python -m server --workers N``: N processes on one port, started and stopped as one server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.process import ServerProcess
from support import ServerFactory


def children(pid: int) -> list[int]:
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in listing.read_text().split()]
    return sorted(found)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and
                   Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
                   for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_share_the_port_print_one_banner_and_stop_together(
        start_server: ServerFactory, backend: str) -> None:
    server = start_server(backend, workers=3)
    assert server.output.count("listening on ") == 1
    assert server.output.count("settings: ") == 1 and server.settings["workers"] == 3
    workers = children(server.pid)
    assert len(workers) == 3
    before = {pid: cpu_ticks(pid) for pid in workers}
    for _ in range(600):  # new connections each time: the kernel spreads them over the workers
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
            assert response.status == 200
    busy = [pid for pid in workers if cpu_ticks(pid) > before[pid]]
    assert len(busy) >= 2, "the connections all went to one worker"
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    assert gone(workers)
    assert "Traceback" not in server.output


def test_a_killed_server_takes_its_workers_with_it(start_server: ServerFactory) -> None:
    server = start_server("sqlite", workers=2)
    workers = children(server.pid)
    server.kill()
    assert gone(workers), "workers outlived their SIGKILLed parent"


def test_a_dead_worker_stops_the_server(start_server: ServerFactory) -> None:
    server = start_server("sqlite", workers=2)
    workers = children(server.pid)
    os.kill(workers[0], signal.SIGKILL)
    assert server.wait(30) == 1
    assert gone(workers)
    assert "exited with status -9; stopping the others" in server.output


def test_a_worker_that_cannot_start_is_one_line_and_status_2(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--workers", "2",
                          "--db", "/nonexistent-dir/x.db"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open database /nonexistent-dir/x.db" in lines[0]


def test_kv_keeps_one_process() -> None:
    run = subprocess.run([sys.executable, "-m", "server", "--backend", "kv", "--workers", "2"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "the kv backend keeps sessions in one process's memory" in run.stderr


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "a.db") as first:
        port = first.url.rsplit(":", 1)[1]
        run = subprocess.run([sys.executable, "-m", "server", "--port", port, "--workers", "2",
                              "--db", str(tmp_path / "b.db")],
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
