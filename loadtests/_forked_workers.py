"""Keep a ``--processes`` master alive until its forked workers have finished their histories.

Locust 2.47's master reaps its forked workers at exit with ``waitpid(pid, WNOHANG)`` and forgets
a worker even when it is still running, so the master exits while its workers still settle and
take their final reads. Whoever waits for the ``locust`` command (a script, the campaign runner)
would then read histories that are not finished. Listening to Locust's ``quit`` event (after the
master told its workers to quit and printed its statistics), the master waits here, without
reaping them, until every child has exited; Locust's own exit handler then reaps them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

POLL_S = 0.05


def child_pids() -> list[int]:
    """This process's children, from ``/proc`` (Linux; ``--processes`` is POSIX-only anyway)."""
    me = os.getpid()
    found: set[int] = set()
    for listing in Path(f"/proc/{me}/task").glob("*/children"):
        try:
            found.update(int(pid) for pid in listing.read_text().split())
        except OSError:
            continue
    return sorted(found)


def _running(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None
    except ChildProcessError:
        return False


def wait_for_children(timeout: float) -> list[int]:
    """Wait until every child has exited (leaving them to be reaped); returns those still running."""
    pending = child_pids()
    if pending:
        log.info("waiting up to %.0f s for %d worker process(es) to finish their histories",
                 timeout, len(pending))
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if _running(pid)]
        if pending:
            time.sleep(POLL_S)
    if pending:
        log.error("worker process(es) %s still running after %.0f s", pending, timeout)
    return pending
