"""The nemesis: faults injected into a server while the load runs, each one recorded in the run's
history, as Jepsen's nemesis does: a store's promises show under faults, not on a quiet night.

It runs in the comparison's process (never in Locust's), in a thread beside the load, against
the server it started (``server.process.ServerProcess``). The kinds (``analysis.history``'s
``FAULT_KINDS``, each defined there once):

- ``kill``: SIGKILL (no clean shutdown at all), a short gap (:data:`KILL_GAP_S`), then the server
  started again on the same database, settings and port, so the clients find it again; the fault
  ends when ``/health`` answers. A store that acknowledges a write before it is durable loses it
  here;
- ``pause``: SIGSTOP for longer than the clients' timeout (:func:`pause_s`), then SIGCONT: every
  request in flight is given up by its client while the server holds it, so its outcome is
  unknown.

Faults start every ``interval`` seconds (counted from the end of the previous one), cycling
through the kinds asked for, and only while the next one can end before the load does, so the
final reads always find a running server. Each fault is one line of ``history/nemesis-<host>-
<pid>.jsonl`` (``docs/history.md``): ``op`` ``fault``, its ``kind``, ``t0`` when it began and
``t1`` when it ended (``time.monotonic_ns()``, with the load's ``host`` id, so the checker can
place it among the load's operations).
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analysis.history import FAULT, FAULT_KINDS, KILL, PAUSE
from loadtests._history import HistoryFile
from loadtests._identity import history_file_name, host_id, hostname
from loadtests._options import CONNECTION_TIMEOUT_MODEL_S
from server.process import ServerProcess

KILL_GAP_S = 0.5
"""Wall seconds between the SIGKILL and the restart: long enough for requests to find nothing
listening (connection refused), as after a real crash."""
PAUSE_BEYOND_TIMEOUT_S = 1.0
"""How much longer than the clients' timeout a pause lasts."""
RESTART_ALLOWANCE_S = 1.5
"""Wall seconds a kill is planned to take beyond its gap (a restart took 0.3 s on the 2-core
development machine): a kill is not started unless this much is left before the load ends."""
STOP_WAIT_S = 60.0


def pause_s(time_scale: float) -> float:
    """How long a pause lasts: longer than the clients' connection timeout (the load tests'
    ``--connection-timeout``, in model seconds, at the comparison's time scale)."""
    return max(CONNECTION_TIMEOUT_MODEL_S * time_scale, 1.0) + PAUSE_BEYOND_TIMEOUT_S


def parse_kinds(text: str) -> tuple[str, ...]:
    """``kill,pause`` as the kinds to cycle through; ValueError names an unknown one."""
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"{', '.join(unknown) or 'none'} not among {', '.join(FAULT_KINDS)}")
    return kinds


class Nemesis:
    """Faults against one server while its load runs; :meth:`start`, then :meth:`stop`."""

    def __init__(self, server: ServerProcess, kinds: Sequence[str], *, interval_s: float,
                 time_scale: float, history_dir: Path, until: float,
                 say: Callable[[str], None] = print) -> None:
        """``until`` is the ``time.monotonic()`` by which every fault must have ended (the end
        of the load); ``say`` prints one line per fault."""
        self.server = server
        self.kinds = tuple(kinds)
        self.interval_s = interval_s
        self.pause_s = pause_s(time_scale)
        self.history_path = history_dir / f"nemesis-{history_file_name()}"
        self.until = until
        self.say = say
        self.injected: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._error: BaseException | None = None

    def start(self) -> Nemesis:
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        """End the schedule (a fault under way is finished first: a paused server continued, a
        killed one restarted) and return the faults injected; RuntimeError if one failed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"the nemesis failed: {error}") from error
        return self.injected

    def _run(self) -> None:
        try:
            history = HistoryFile(self.history_path)
            try:
                for kind in itertools.cycle(self.kinds):
                    if self._stop.wait(self.interval_s):
                        return
                    if time.monotonic() + self._planned_s(kind) > self.until:
                        return
                    history.write(self.inject(kind))
            finally:
                history.close()
        except BaseException as error:  # reported by stop(), in the comparison's thread
            self._error = error

    def _planned_s(self, kind: str) -> float:
        return KILL_GAP_S + RESTART_ALLOWANCE_S if kind == KILL else self.pause_s

    def inject(self, kind: str) -> dict[str, Any]:
        """One fault, from start to end; its history record."""
        t0 = time.monotonic_ns()
        detail = {KILL: self._kill, PAUSE: self._pause}[kind]()
        record = {"op": FAULT, "kind": kind, "t0": t0, "t1": time.monotonic_ns(),
                  "host": host_id(), "type": "info", "session": None,
                  "client": f"{hostname()}/{os.getpid()}/nemesis", "detail": detail}
        self.injected.append(record)
        self.say(f"nemesis: {kind} for {(record['t1'] - t0) / 1e9:.1f} s: {detail}")
        return record

    def _kill(self) -> str:
        killed = self.server.pid
        self.server.kill()
        time.sleep(KILL_GAP_S)  # the crash's outage, not a wait for anything
        self.server.restart()
        return (f"SIGKILL to pid {killed}; restarted after a {KILL_GAP_S:g} s gap as pid "
                f"{self.server.pid} on port {self.server.port}, /health answering")

    def _pause(self) -> str:
        started = time.monotonic()
        self.server.send_signal(signal.SIGSTOP)
        try:
            self._stop.wait(self.pause_s)  # cut short only when the comparison is stopping
        finally:
            self.server.send_signal(signal.SIGCONT)
        return (f"SIGSTOP to pid {self.server.pid}; SIGCONT after "
                f"{time.monotonic() - started:.1f} s (planned {self.pause_s:g} s, longer than "
                "the clients' timeout)")
