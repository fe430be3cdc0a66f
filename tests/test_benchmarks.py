"""The benchmarks run as their README says and end with the line it promises: a small run of
each, so a change to the comparison's options or the checker cannot leave them broken unseen.
Their figures are the benchmarks' own business (benchmarks/README.md), not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

from support import ROOT


def bench(script: str, *args: str, timeout: float) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_load_generator_benchmark_loads_the_server_and_reads_its_history_back() -> None:
    line = bench("load_generator.py", "--users", "4", "--duration", "2", timeout=180)
    found = re.fullmatch(r"load generator: ([\d,]+) operations/s sustained; Locust ([\d.]+) ms "
                         r"of CPU per operation, so ([\d,]+) operations per CPU-second", line)
    assert found, line
    assert int(found[1].replace(",", "")) > 0 and float(found[2]) > 0


def test_the_checker_benchmark_checks_what_it_generated() -> None:
    line = bench("checker.py", "--operations", "20000", "--sessions", "400", "--jobs", "1,2",
                 timeout=180)
    found = re.fullmatch(r"load\+check: [\d.]+ s \([\d.]+ s of CPU\), ([\d,]+) operations/s; "
                         r"peak memory \(maxrss\) (\d+) MiB", line)
    assert found, line
    assert int(found[1].replace(",", "")) > 0
