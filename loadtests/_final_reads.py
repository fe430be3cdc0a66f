"""The reads after the load: wait the settle time, then poll both sides of every session touched.

With several servers (``--hosts``) the sessions take turns among them: on a consistent store every
server's final read is the same.

The checker decides *lost* from these (``docs/history.md``, "Final reads"). They run in their own
greenlet, started when the test stops, so a worker keeps answering its master meanwhile; Locust's
``quitting`` waits for them before the process exits. They are not Locust requests: the load has
stopped, and a worker's statistics after the stop may never reach its master.

A master started with ``--processes`` interrupts its workers (SIGINT) three seconds after it
quits, which is often before the settle time is over, and Ctrl-C reaches every process of the
group. While the final reads run, the first two SIGINTs are therefore logged and ignored; a third
abandons them.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

import gevent
from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from loadtests._peer import Peer, PeerContext
from loadtests._recording import Recording
from loadtests._transport import Transport

log = logging.getLogger(__name__)

CONCURRENCY = 32  # reads in flight; the server's read path serves them in parallel
PATIENCE_SIGINTS = 2


class _Deferral:
    """Counts SIGINTs while any final-read work runs; re-entrant, restores the handler last."""

    depth = 0
    seen = 0
    previous: Any = None

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        cls.seen += 1
        if cls.seen > PATIENCE_SIGINTS:
            raise KeyboardInterrupt
        log.warning("interrupt %d ignored while the final reads run; interrupt %d more time(s) "
                    "to abandon them", cls.seen, PATIENCE_SIGINTS + 1 - cls.seen)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Log and ignore the first SIGINTs while the body runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _Deferral.depth == 0:
        _Deferral.seen = 0
        _Deferral.previous = signal.signal(signal.SIGINT, _Deferral.handler)
    _Deferral.depth += 1
    try:
        yield
    finally:
        _Deferral.depth -= 1
        if _Deferral.depth == 0:
            signal.signal(signal.SIGINT, _Deferral.previous)


class FinalReads:
    """The final reads of one test in one process."""

    def __init__(self, recording: Recording, host: str) -> None:
        self.recording = recording
        self.host = host
        self.sessions = dict(recording.sessions)
        recording.sessions.clear()
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        options = self.recording.options
        with sigint_deferred():
            log.info("load stopped; settling %.2f s before the final reads of %d sessions",
                     options.settle_s, len(self.sessions))
            gevent.sleep(options.settle_s)
            session = FastHttpSession(self.host, request_event=EventHook(), user=None,
                                      concurrency=CONCURRENCY,
                                      network_timeout=max(options.connection_timeout_s, 1.0))
            transport = Transport(session, options.origin)
            readers: dict[tuple[str, str], Peer] = {}
            pool = Pool(CONCURRENCY)
            for turn, code in enumerate(sorted(self.sessions)):
                scenario, target = self.sessions[code], options.target(turn)
                reader = readers.get((scenario, target))
                if reader is None:  # one per scenario and server, each with its own lanes
                    context = PeerContext(transport, self.recording.history, sessions={},
                                          scenario=scenario, final=True)
                    role = f"final-{scenario}" + (f"-{options.hosts.index(target) + 1}"
                                                  if target else "")
                    reader = readers[scenario, target] = Peer(context, 0, role, target)
                pool.spawn(self._read, reader, code)
            pool.join()
            log.info("final reads done: %d sessions", len(self.sessions))

    @staticmethod
    def _read(reader: Peer, code: str) -> None:
        for side in ("offerer", "answerer"):
            reader.poll(code, side)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the reads (tolerating interrupts as above); True if they finished."""
        with sigint_deferred():
            self.greenlet.join(timeout)
        return self.greenlet.dead


def ensure_final_reads(recording: Recording, host: str) -> FinalReads:
    """The current test's final reads, started now unless already started (never twice:
    ``test_stop`` and ``quitting`` may both get here, in either order)."""
    if recording.final_reads is None:
        recording.final_reads = FinalReads(recording, host)
    return recording.final_reads
