"""How many operations one Locust process sustains with the history recorded:
``python benchmarks/load_generator.py``.

Starts the sqlite server (``server/process.py``, a fresh database, durable defaults unless
``--synchronous normal``) and runs Locust against it exactly as the comparison does (its command,
``comparison.load.locust_command``: every scenario, headless, the history recorded, Locust's CSV
written), for ``--duration`` seconds with ``--users`` users at ``--time-scale``, each starting its
next session as soon as its last one ended (a pacing of :data:`CLOSED_PACING_S`, shorter than any
session: a closed loop, which is what saturates a load generator). Then it reads the
history back and prints the operations per second under load (``analysis.stats.span_s``: final
reads and settling rounds left out), the CPU Locust's process used and per operation, and the
server's.

On a machine whose cores the server, Locust and other processes share, the operations per second
move with whatever else runs; Locust's **CPU per operation** hardly does, and its inverse,
*operations per CPU-second*, is what one Locust process sustains once it has a core to itself
(Locust is one process, one core at most). The last line says both:
``load generator: N operations/s sustained ...; Locust X ms of CPU per operation, so M operations
per CPU-second``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.history import after_load, load_run  # noqa: E402
from analysis.stats import span_s  # noqa: E402
from comparison.load import locust_command  # noqa: E402
from comparison.settings import load_settings  # noqa: E402
from server.process import ServerProcess, stop_process  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CLOSED_PACING_S = 0.5
"""Model seconds between two sessions of one user: less than any session lasts, so every user
starts its next one as soon as it can."""


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds a live process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu_s() -> float:
    """CPU seconds of the child processes that have exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/load_generator.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--duration", type=int, default=20, metavar="SECONDS")
    parser.add_argument("--time-scale", type=float, default=0.1,
                        help="the clients' wall seconds per model second (default: the "
                        "comparison's, %(default)s)")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full",
                        help="the server's --synchronous (default: %(default)s, durable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="load-generator-") as scratch:
        output = Path(scratch)
        settings = load_settings(["--backends", "sqlite", "--repeat", "1",
                                  "--arrival-rate", f"{args.users / CLOSED_PACING_S:g}",
                                  "--pacing", f"{CLOSED_PACING_S:g}",
                                  "--duration", str(args.duration),
                                  "--time-scale", str(args.time_scale), "--output", str(output)])
        assert settings.users == args.users, (settings.users, args.users)
        run_dir = output / "sqlite"
        (run_dir / "locust").mkdir(parents=True)
        load_before = os.getloadavg()[0]
        with ServerProcess(run_dir / "server.db",
                           extra_args=["--synchronous", args.synchronous]) as server:
            server_started = process_cpu_s(server.pid)
            locust_started = children_cpu_s()
            started = time.monotonic()
            with (run_dir / "locust" / "locust.log").open("wb") as log:
                locust = subprocess.Popen(
                    locust_command(settings, "sqlite", [server.url], run_dir),
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                try:
                    status = locust.wait(args.duration + 120)
                finally:
                    stop_process(locust, 30)
            wall = time.monotonic() - started
            locust_cpu = children_cpu_s() - locust_started
            server_cpu = process_cpu_s(server.pid) - server_started
        if status != 0:
            print(f"Locust exited with status {status}; see its log:\n"
                  + (run_dir / "locust" / "locust.log").read_text()[-3000:], file=sys.stderr)
            return 1
        run = load_run(run_dir)
    operations = len(run.records)
    under_load = sum(1 for record in run.records if not after_load(record))
    rate = under_load / span_s(run.records)
    per_op_ms = locust_cpu / operations * 1000
    print(f"{args.users} users, time scale {args.time_scale}, server --synchronous "
          f"{args.synchronous}: {under_load:,} operations under load ({operations:,} with the "
          f"final reads) in {wall:.1f} s of Locust's run; load average {load_before:.2f} "
          f"before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores")
    print(f"Locust's process: {locust_cpu:.2f} s of CPU (start-up and final reads included); "
          f"the server's: {server_cpu:.2f} s, {server_cpu / operations * 1000:.3f} ms per "
          "operation")
    print(f"load generator: {rate:,.0f} operations/s sustained; Locust {per_op_ms:.3f} ms of "
          f"CPU per operation, so {1000 / per_op_ms:,.0f} operations per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
