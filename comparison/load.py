"""One target under load: its servers (unless external), Locust headless as a child process,
progress lines while it runs, and everything stopped again however it ends.

Each store gets fresh server processes (``python -m server``, ``--servers`` of them) on free
loopback ports and a fresh database they share (a SQLite file, or a PostgreSQL database whose DSN
they get in their environment); with several, Locust spreads each scenario's peers over them
(``--hosts``). Locust runs in its own process, so its gevent patching never touches this one.
With ``--nemesis``, the nemesis (``comparison.nemesis``) injects its faults into those servers
while Locust runs, and is stopped (its last fault finished) before anything else.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import loadtests
from analysis.report_render import settling_words
from comparison.nemesis import Nemesis
from comparison.progress import progress_line, read_totals
from comparison.settings import DSN_VARIABLE, ComparisonSettings
from server.process import ServerProcess, stop_process

log = logging.getLogger(__name__)

LOCUSTFILES = Path(loadtests.__file__).resolve().parent
PROGRESS_EVERY_S = 5.0
# Beyond the load itself: users finishing their flow, settle, final reads, Locust's start-up.
SLACK_S = 120.0


def locust_command(settings: ComparisonSettings, target: str, urls: list[str], run_dir: Path
                   ) -> list[str]:
    """Locust headless against ``urls`` at the settings' arrival rate (``--pacing`` makes the
    users start sessions at a fixed rate), recording into ``run_dir``."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES), "--headless",
        "--host", urls[0],
        "--users", str(settings.users), "--spawn-rate", f"{settings.spawn_rate:g}",
        "--pacing", f"{settings.pacing_model_s:g}",
        "--run-time", f"{settings.duration_s}s", "--stop-timeout", str(settings.stop_timeout_s),
        "--history-dir", str(run_dir / "history"),
        "--run-id", f"{settings.output.name}-{run_dir.name}",
        "--time-scale", str(settings.time_scale), "--backend-name", target,
        "--csv", str(run_dir / "locust" / "locust"), "--html", str(run_dir / "locust" / "report.html"),
        "--only-summary", "--exit-code-on-error", "0",
    ]
    if settings.settle is not None:
        command += ["--settle", str(settings.settle)]
    if settings.session_ttl_ms is not None:
        command += ["--session-ttl", str(settings.session_ttl_ms)]
    if len(urls) > 1:
        command += ["--hosts", ",".join(urls)]
    return command + list(settings.scenarios)


def _watch(process: subprocess.Popen[bytes], settings: ComparisonSettings, label: str,
           run_dir: Path) -> int:
    """Wait for Locust, printing progress; a run past its deadline is stopped, not waited on."""
    started = time.monotonic()
    load_s = settings.duration_s
    deadline = started + load_s + settings.stop_timeout_s + SLACK_S
    stats = run_dir / "locust" / "locust_stats.csv"
    while True:
        try:
            return process.wait(timeout=PROGRESS_EVERY_S)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        print(progress_line(label, started + load_s - now, read_totals(stats)), flush=True)
        if now > deadline:
            log.error("Locust did not finish in time; stopping it")
            process.terminate()
            return process.wait(30)


def after_load_line(run_dir: Path) -> str:
    """How the final reads went and what the target lacked, from the run's meta.json."""
    try:
        meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "final reads: meta.json unreadable"
    line = f"final reads: {settling_words(meta.get('settling'))}"
    unsupported = meta.get("unsupported") or {}
    if unsupported:
        line += "; not supported by this target: " + ", ".join(unsupported)
    return line


def start_servers(settings: ComparisonSettings, backend: str, run_dir: Path, dsn: str | None
                  ) -> list[ServerProcess]:
    """The backend's servers on one database; ``server.log``, ``server-2.log``, ... each."""
    servers: list[ServerProcess] = []
    try:
        for number in range(1, settings.servers_for(backend) + 1):
            servers.append(ServerProcess(
                run_dir / "server.db", backend=backend,
                extra_args=["--time-scale", str(settings.time_scale)],
                log_path=run_dir / ("server.log" if number == 1 else f"server-{number}.log"),
                env={DSN_VARIABLE: dsn} if dsn else None,
            ).start())
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def run_target(settings: ComparisonSettings, target: str, label: str, dsn: str | None = None,
               run_name: str | None = None) -> Path:
    """Start the target's servers (unless external), load them, stop everything; the run
    folder (``run_name``, one per repeat; the target's name by default)."""
    run_dir = settings.output / (run_name or target)
    (run_dir / "locust").mkdir(parents=True, exist_ok=True)
    servers: list[ServerProcess] = []
    locust = None
    nemesis = None
    try:
        if settings.host:
            urls = [settings.host]
        else:
            servers = start_servers(settings, target, run_dir, dsn)
            urls = [server.url for server in servers]
        where = urls[0] if len(urls) == 1 else f"{len(urls)} servers ({', '.join(urls)})"
        print(f"[{label}] loading {where} for {settings.duration_s} s "
              f"({settings.wall_rate:g} sessions/s from {settings.users} users, time scale "
              f"{settings.time_scale})", flush=True)
        with (run_dir / "locust" / "locust.log").open("wb") as output:
            locust = subprocess.Popen(locust_command(settings, target, urls, run_dir),
                                      stdout=output, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            if servers and settings.nemesis:
                # With --servers N, the first server takes the faults; the others go on serving.
                nemesis = Nemesis(servers[0], settings.nemesis,
                                  interval_s=settings.nemesis_interval_s,
                                  time_scale=settings.time_scale,
                                  history_dir=run_dir / "history",
                                  until=time.monotonic() + settings.duration_s,
                                  say=lambda line: print(f"[{label}] {line}", flush=True)
                                  ).start()
            status = _watch(locust, settings, label, run_dir)
        if nemesis:
            nemesis, running = None, nemesis
            running.stop()  # raises if a fault failed (a server that would not restart)
        if status != 0:
            raise RuntimeError(
                f"Locust exited with status {status}; see {run_dir / 'locust' / 'locust.log'}"
            )
        totals = read_totals(run_dir / "locust" / "locust_stats.csv")
        print(progress_line(label, 0, totals).replace("settling, final reads", "done"),
              flush=True)
        print(f"[{label}] {after_load_line(run_dir)}", flush=True)
    finally:
        try:
            if nemesis:  # only on the way out of an exception: its own error would hide it
                nemesis.stop()
        finally:
            stop_process(locust, 30)
            for server in servers:
                server.stop()
    return run_dir
