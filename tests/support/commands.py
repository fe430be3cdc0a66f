"""The harness's commands run as a person runs them: a child process, its output and status."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT


def run(module: str, *args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` from the checkout, with its output captured."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


def check(*args: object) -> subprocess.CompletedProcess[str]:
    """``python -m analysis check <args>``."""
    return run("analysis", "check", *args, timeout=60)


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The last line the command printed on stdout."""
    return done.stdout.strip().splitlines()[-1]
