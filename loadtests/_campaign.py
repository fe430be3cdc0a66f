"""The comparison: the same Locust load against every store, then the checker and the report.

Each store gets a fresh server process (``python -m server``) on a free loopback port and a
fresh database; Locust runs headless in its own process, so its gevent patching never touches
this one. A Ctrl-C stops every process started here and keeps what was recorded, which the
analysis can still read.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from loadtests._campaign_settings import CampaignSettings
from loadtests._progress import progress_line, read_totals
from loadtests._server_process import ServerProcess, stop_process

log = logging.getLogger(__name__)

LOCUSTFILES = Path(__file__).resolve().parent
PROGRESS_EVERY_S = 5.0
# Beyond the load itself: users finishing their flow, settle, final reads, Locust's start-up.
SLACK_S = 120.0


def locust_command(settings: CampaignSettings, target: str, url: str, run_dir: Path
                   ) -> list[str]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES), "--headless",
        "--host", url,
        "--users", str(settings.users), "--spawn-rate", str(settings.spawn_rate),
        "--run-time", f"{settings.duration_s}s", "--stop-timeout", str(settings.stop_timeout_s),
        "--history-dir", str(run_dir / "history"),
        "--run-id", f"{settings.output.name}-{target}",
        "--time-scale", str(settings.time_scale), "--backend-name", target,
        "--csv", str(run_dir / "locust" / "locust"), "--html", str(run_dir / "locust" / "report.html"),
        "--only-summary", "--exit-code-on-error", "0",
    ]
    if settings.settle is not None:
        command += ["--settle", str(settings.settle)]
    return command + list(settings.scenarios)


def _watch(process: subprocess.Popen[bytes], settings: CampaignSettings, label: str,
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


def run_target(settings: CampaignSettings, target: str, label: str) -> Path:
    """Start the target's server (unless external), load it, stop everything; the run folder."""
    run_dir = settings.output / target
    (run_dir / "locust").mkdir(parents=True, exist_ok=True)
    server = None
    locust = None
    try:
        if settings.host:
            url = settings.host
        else:
            server = ServerProcess(
                run_dir / "server.db", backend=target,
                extra_args=["--time-scale", str(settings.time_scale)],
                log_path=run_dir / "server.log",
            ).start()
            url = server.url
        print(f"[{label}] loading {url} for {settings.duration_s} s "
              f"({settings.users} users, time scale {settings.time_scale})", flush=True)
        with (run_dir / "locust" / "locust.log").open("wb") as output:
            locust = subprocess.Popen(locust_command(settings, target, url, run_dir),
                                      stdout=output, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            status = _watch(locust, settings, label, run_dir)
        if status != 0:
            raise RuntimeError(
                f"Locust exited with status {status}; see {run_dir / 'locust' / 'locust.log'}"
            )
        totals = read_totals(run_dir / "locust" / "locust_stats.csv")
        print(progress_line(label, 0, totals).replace("settling, final reads", "done"),
              flush=True)
    finally:
        stop_process(locust, 30)
        if server:
            server.stop()
    return run_dir


def analyse(settings: CampaignSettings) -> int:
    """Check every history, then write the report; the report's gates give the exit status."""
    from analysis.__main__ import main as analysis

    folder = str(settings.output)
    analysis(["check", folder, "--json", str(settings.output / "check.json")])
    gates = [arg for expectation in settings.expect for arg in ("--expect", expectation)]
    return analysis(["report", folder, *gates])


def run_campaign(settings: CampaignSettings) -> int:
    targets = settings.targets
    taken = [settings.output / t for t in targets if (settings.output / t).exists()]
    if taken:
        # Mixing two runs' histories in one folder would make the checker judge both at once.
        raise RuntimeError(f"{taken[0]} already holds a run: choose another --output")
    settings.output.mkdir(parents=True, exist_ok=True)
    try:
        for number, target in enumerate(targets, 1):
            run_target(settings, target, f"{target} {number}/{len(targets)}")
    except KeyboardInterrupt:
        print(f"\ninterrupted: every process started here is stopped; what was recorded is in "
              f"{settings.output} (analyse it with: python -m analysis report {settings.output})",
              file=sys.stderr)
        return 130
    return analyse(settings)
