"""``locust -f loadtests`` driven from its web UI, as a person would: start, stop, start again.

After a stop from the web UI nothing ends the process, so the log is where a person learns
where the history is and how to check it; the harness's options are custom parameters of the
form, which sends them back as text (blank for "resolve it again").
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from server.pgcluster import free_port
from server.process import ServerProcess, stop_process
from support import ROOT
from support.commands import check

BLANK_OPTIONS = {"run_id": "", "settle": "", "settle_mode": "", "session_ttl": "",
                 "time_scale": "0.1", "backend_name": ""}


def post(url: str, form: dict[str, str] | None = None) -> str:
    data = urllib.parse.urlencode(form or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as reply:
        return reply.read().decode()


def wait_for(log: Path, text: str, count: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while log.read_text().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times:\n{log.read_text()}"
        time.sleep(0.1)


def test_a_stop_from_the_web_ui_logs_where_the_history_is_and_a_second_start_works(
        tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    with ServerProcess(tmp_path / "s.db") as server, log.open("w") as output:
        web = f"http://127.0.0.1:{free_port()}"
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests"), "--host", server.url,
             "--web-host", "127.0.0.1", "--web-port", web.rsplit(":", 1)[1],
             "--history-dir", str(tmp_path / "run" / "history")],
            cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(log, "Starting web interface", 1)
            form = {"user_count": "2", "spawn_rate": "2", "host": server.url, **BLANK_OPTIONS}
            for start in (1, 2):
                deadline = time.monotonic() + 10
                while True:  # the UI answers once its server is up
                    try:
                        assert '"success": true' in post(f"{web}/swarm", form)
                        break
                    except OSError:
                        assert time.monotonic() < deadline
                        time.sleep(0.1)
                wait_for(log, "All users spawned", start)
                time.sleep(1.5)
                post(f"{web}/stop")
                wait_for(log, "check it with: python -m analysis check", start)
        finally:
            stop_process(locust, 30)
    folder = tmp_path / "run"
    assert (f"the history is in {folder}; check it with: python -m analysis check {folder}"
            in log.read_text())
    assert "Traceback" not in log.read_text() and "resulted in a 500" not in log.read_text()
    done = check(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: consistent" in done.stdout
