"""How fast the checker loads and checks a large history: ``python benchmarks/checker.py``.

Generates a run folder of a simulated correct store (by default 1,000,000 operations over 20,000
sessions, written as the load tests would: one file per process) in a temporary folder, then
times ``load_run`` + ``check_run`` on it and prints operations per second and the peak resident
memory of the process (``ru_maxrss``; the generator streams, so the peak is the checker's).
With ``--jobs 1,2`` it checks the same loaded run once per number of processes and prints each
(``check_run(jobs=N)``; the forked workers' memory is their own, shown as the children's peak).
The last line sums the load and the first ``--jobs`` check (its CPU seconds include the
workers'): ``load+check: X s (Y s of CPU), N operations/s; peak memory (maxrss) M MiB``.
CPU seconds say more than wall time on a machine other processes share.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the simulated store is test support, not product

from analysis.checker import check_run  # noqa: E402
from analysis.history import load_run  # noqa: E402
from support.simulation import SimSettings, meta_for, simulate, write_run  # noqa: E402

# Operations per session besides polls (create, candidates, answer, finals, second answerers),
# and extra operations per poll-per-client, in the simulator; measured, used to hit the target.
FIXED_OPS, OPS_PER_POLL = 12.9, 2.15


def workers_cpu() -> float:
    """CPU seconds of the worker processes that have exited (``check_run`` waits for them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/checker.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", default="1", metavar="N[,N...]",
                        help="processes to check with, one measurement each (default 1)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the run folder here and keep it (default: a temp folder)")
    args = parser.parse_args(argv)
    try:
        job_counts = [int(part) for part in args.jobs.split(",")]
    except ValueError:
        parser.error(f"--jobs: {args.jobs!r} is not a comma-separated list of numbers")
    if not job_counts or min(job_counts) < 1:
        parser.error("--jobs: each number must be at least 1")
    polls = max(1.0, (args.operations / args.sessions - FIXED_OPS) / OPS_PER_POLL)
    settings = SimSettings(polls=polls)
    with tempfile.TemporaryDirectory(prefix="checker-bench-") as scratch:
        folder = args.keep or Path(scratch) / "bench-run"
        started = time.perf_counter()
        batches = simulate(args.seed, args.sessions, settings)
        written = write_run(folder, meta_for("bench", settings), batches)
        generated = time.perf_counter() - started
        print(f"generated {written} operations over {args.sessions} sessions in {generated:.1f} s "
              f"({folder})")
        started, cpu_started = time.perf_counter(), time.process_time()
        run = load_run(folder)
        loaded, load_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"loaded {len(run.records)} operations in {loaded:.2f} s ({load_cpu:.2f} s of CPU)")
        verdicts = set()
        serial: tuple[float, float] | None = None
        for jobs in job_counts:
            started, cpu_started = time.perf_counter(), time.process_time()
            workers_started = workers_cpu()
            result = check_run(run, jobs=jobs)
            checked = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            workers = workers_cpu() - workers_started
            verdicts.add(result.verdict)
            serial = serial or (checked, cpu + workers)
            print(f"--jobs {jobs}: checked in {checked:.2f} s (CPU: {cpu:.2f} s here, "
                  f"{workers:.2f} s in workers), {result.operations / checked:,.0f} "
                  "operations/s; "
                  f"{result.sessions} sessions, verdict {result.verdict}; load average "
                  f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other processes "
                  "take cores from the workers)")
    assert serial is not None
    children_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if children_mib:
        print(f"largest worker process: {children_mib:,.0f} MiB (maxrss)")
    wall, cpu = loaded + serial[0], load_cpu + serial[1]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load+check: {wall:.2f} s ({cpu:.2f} s of CPU), {len(run.records) / wall:,.0f} "
          f"operations/s; peak memory (maxrss) {peak_mib:,.0f} MiB")
    return 0 if verdicts == {"consistent"} else 1


if __name__ == "__main__":
    sys.exit(main())
