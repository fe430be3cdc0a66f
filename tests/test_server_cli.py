"""``python -m server`` as an operator meets it: settings, one-line errors, a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from server.process import ServerProcess
from server.settings import SettingsError, load_settings


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True,
                          text=True, timeout=30, env=env)


def test_environment_then_command_line() -> None:
    env = {"SIGNALING_PORT": "9000", "SIGNALING_KV_CACHE_TTL": "30", "SIGNALING_BACKEND": "rmw"}
    settings = load_settings(["--port", "9001"], env)
    assert settings.port == 9001 and settings.backend == "rmw" and settings.kv.cache_ttl == 30.0
    assert load_settings([], {}).port == 8080
    assert load_settings(["--cors-origins", "https://a, https://b"], {}).cors_origins == (
        "https://a", "https://b")


@pytest.mark.parametrize("argv,env,message", [
    (["--port", "70000"], {}, "--port / SIGNALING_PORT: '70000' must be between 0 and 65535"),
    ([], {"SIGNALING_SESSION_TTL": "soon"}, "'soon' is not a valid int"),
    (["--kv-reroute", "2"], {}, "--kv-reroute / SIGNALING_KV_REROUTE: '2' must be between 0 and 1"),
    (["--log-level", "loud"], {}, "'loud' is not one of debug, info, warning, error"),
])
def test_bad_settings_name_the_setting(argv: list[str], env: dict[str, str], message: str
                                       ) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(argv, env)


@pytest.mark.parametrize("args,message", [
    (["--port", "-1"], "--port / SIGNALING_PORT: '-1' must be between 0 and 65535"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--db", "/nonexistent-dir/x.db"], "cannot open database /nonexistent-dir/x.db"),
])
def test_bad_start_is_one_line_without_traceback(args: list[str], message: str) -> None:
    run = run_server(*args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr


def test_help_lists_every_setting_with_its_variable() -> None:
    run = run_server("--help")
    assert run.returncode == 0
    for flag in ("--db", "--host", "--port", "--session-ttl", "--backend", "--log-level",
                 "--time-scale", "--kv-cache-ttl", "SIGNALING_DB"):
        assert flag in run.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_signal(sqlite_db: Path, sqlite_server: ServerProcess,
                                 signum: int) -> None:
    assert f"database {sqlite_db}" in sqlite_server.output
    assert "backend sqlite" in sqlite_server.output
    sqlite_server.send_signal(signum)
    assert sqlite_server.wait(30) == 0
    assert "Traceback" not in sqlite_server.output


def test_a_request_in_flight_at_sigterm_still_gets_its_answer(tmp_path: Path) -> None:
    """The kv model's write latency (3 model s at time scale 1) holds a create in flight."""
    import json
    import threading
    import time
    import urllib.request

    server = ServerProcess(tmp_path / "s.db", backend="kv",
                           extra_args=["--kv-write-ms", "3000", "--kv-jitter", "0"]).start()
    replies: list[int] = []

    def create() -> None:
        request = urllib.request.Request(
            f"{server.url}/room/offer", data=json.dumps({"peerId": "p", "offer": "o"}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            replies.append(response.status)

    sender = threading.Thread(target=create)
    sender.start()
    time.sleep(0.5)  # the create is now inside its modelled 3 s write; nothing to poll for that
    server.send_signal(signal.SIGTERM)
    sender.join(30)
    assert replies == [200]
    assert server.wait(30) == 0


def test_synchronous_defaults_to_full_durability() -> None:
    assert load_settings([], {}).synchronous == "full"
    assert load_settings(["--synchronous", "normal"], {}).synchronous == "normal"
    with pytest.raises(SettingsError, match="not one of full, normal"):
        load_settings([], {"SIGNALING_SYNCHRONOUS": "off"})
    with pytest.raises(SettingsError, match="ten years"):
        load_settings(["--session-ttl", "99999999999999999999"], {})
