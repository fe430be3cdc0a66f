"""``python -m server`` as an operator meets it: settings, one-line errors, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from server.pgcluster import free_port
from server.process import ServerProcess
from server.settings import SettingsError, load_settings, redact_dsn


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
    import threading
    import time

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


def test_the_postgres_settings_are_checked_and_a_password_never_shown() -> None:
    with pytest.raises(SettingsError, match="--backend postgres needs --dsn / SIGNALING_DSN"):
        load_settings(["--backend", "postgres"], {})
    with pytest.raises(SettingsError, match="must be a postgresql:// URI"):
        load_settings(["--dsn", "mysql://u:p@h/db"], {})
    with pytest.raises(SettingsError, match="--workers / SIGNALING_WORKERS: '0' must be between"):
        load_settings(["--workers", "0"], {})
    dsn = "postgresql://harness:s3cret@127.0.0.1:5432/db?password=other&sslmode=disable"
    assert redact_dsn(dsn) == ("postgresql://harness:***@127.0.0.1:5432/db"
                               "?password=***&sslmode=disable")
    assert redact_dsn("postgresql://harness@/db") == "postgresql://harness@/db"
    settings = load_settings(["--backend", "rmw-postgres"], {"SIGNALING_DSN": dsn})
    assert "s3cret" not in json.dumps(settings.as_dict()) and "other" not in str(settings.as_dict())
    assert "dsn" not in settings.shareable() and "db" not in settings.shareable()


def test_a_postgres_server_prints_its_dsn_without_the_password(postgres_dsn: str) -> None:
    password = postgres_dsn.split("@")[0].rsplit(":", 1)[1]
    with ServerProcess(None, backend="postgres", env={"SIGNALING_DSN": postgres_dsn}) as server:
        with urllib.request.urlopen(f"{server.url}/_harness/config", timeout=10) as response:
            config = response.read().decode()
    assert password not in server.output and password not in config
    assert "backend postgres, database postgresql://harness:***@127.0.0.1:" in server.output
    assert json.loads(config)["settings"]["workers"] == 1 and "dsn" not in json.loads(config)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "SIGNALING_DSN": f"postgresql://u:hidden@127.0.0.1:{free_port()}/db"}
    run = run_server("--port", "0", "--backend", "postgres", env=env)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect to postgresql://u:***@127.0.0.1:" in lines[0]
    assert "hidden" not in run.stderr
