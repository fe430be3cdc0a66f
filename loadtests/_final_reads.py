"""The reads after the load: poll both sides of every session touched, once the store settled.

With several servers (``--hosts``) the sessions take turns among them: on a consistent store every
server's final read is the same.

The checker decides *lost* from these (``docs/history.md``, "Final reads"). They run in their own
greenlet, started when the test stops, so a worker keeps answering its master meanwhile; Locust's
``quitting`` waits for them before the process exits. They are not Locust requests: the load has
stopped, and a worker's statistics after the stop may never reach its master.

How long to wait depends on what is known of the target (``--settle-mode``, resolved at test
start):

- ``fixed`` (a target that reports its settings, whose lag is therefore known): wait the settle
  time, then read every session once;
- ``until-agreed`` (a target whose lag is unknown): read every session in rounds, one poll
  interval apart, until two rounds in a row return exactly the same, or the settle time (then a
  bound) runs out. Only the last round is ``final``; earlier rounds are recorded as reads with
  ``settling: <round>``, so a store that was merely stale shows stale reads, not lost writes.
  Two equal rounds can still both be stale (a cache that holds for longer than a poll interval):
  give such a target ``--settle-mode fixed`` and its lag as ``--settle``.

What happened (mode, rounds, whether they agreed, the wait) is :attr:`FinalReads.outcome`, which
the local runner writes into meta.json's ``settling``.

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
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from loadtests._options import SETTLE_MODES
from loadtests._peer import Peer, PeerContext
from loadtests._recording import Recording
from loadtests._transport import Transport

log = logging.getLogger(__name__)

CONCURRENCY = 32  # reads in flight; the server's read path serves them in parallel
PATIENCE_SIGINTS = 2
FIXED, UNTIL_AGREED = SETTLE_MODES


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


class _Round:
    """One round's records, held until it is known whether the round is the final one."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)


Results = dict[tuple[str, str], tuple[Any, ...]]
"""(session, side) -> what a read returned (type, status, tokens): equal rounds agree."""


class FinalReads:
    """The final reads of one test in one process; ``done`` is called when they are written."""

    def __init__(self, recording: Recording, host: str,
                 done: Callable[[FinalReads], None] | None = None) -> None:
        self.recording = recording
        self.host = host
        self.sessions = dict(recording.sessions)
        recording.sessions.clear()
        self.done = done
        self.outcome: dict[str, Any] = {}
        self.stopped = time.monotonic()
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        options = self.recording.options
        mode = options.settle_mode or FIXED
        with sigint_deferred():
            if mode == FIXED:
                log.info("load stopped; settling %.2f s before the final reads of %d sessions",
                         options.settle_s, len(self.sessions))
                gevent.sleep(options.settle_s)
            else:
                log.info("load stopped; reading %d sessions in rounds until two agree (at most "
                         "%.2f s)", len(self.sessions), options.settle_s)
            readers = self._readers()
            previous: Results | None = None
            rounds = 0
            while True:
                rounds += 1
                began = time.monotonic() - self.stopped
                held = _Round()
                results = self._round(readers, held)
                agreed = not self.sessions or previous is not None and results == previous
                final = (mode == FIXED or agreed
                         or time.monotonic() - self.stopped + options.poll_interval_s
                         > options.settle_s)
                for record in held.records:
                    if final:
                        record["final"] = True
                    else:
                        record["settling"] = rounds
                    self.recording.history.write(record)
                if final:
                    break
                previous = results
                gevent.sleep(options.poll_interval_s)
            self.outcome = {"mode": mode, "rounds": rounds, "waited_s": round(began, 3)}
            if mode == UNTIL_AGREED:
                self.outcome.update(agreed=agreed, bound_s=options.settle_s)
            log.info("final reads done: %d sessions, %d round(s)", len(self.sessions), rounds)
            if self.done is not None:
                self.done(self)

    def _readers(self) -> dict[str, Peer]:
        """The reader of each session: one per scenario and server, so its client names say
        which scenario's session it reads and each has its own lanes; with several servers
        (``--hosts``) the sessions take them in turn, as the peers did."""
        options = self.recording.options
        session = FastHttpSession(self.host, request_event=EventHook(), user=None,
                                  concurrency=CONCURRENCY,
                                  network_timeout=max(options.connection_timeout_s, 1.0))
        transport = Transport(session, options.origin, self.recording.unsupported)
        made: dict[tuple[str, str], Peer] = {}
        readers: dict[str, Peer] = {}
        for turn, code in enumerate(sorted(self.sessions)):
            scenario, target = self.sessions[code], options.target(turn)
            reader = made.get((scenario, target))
            if reader is None:
                context = PeerContext(transport, self.recording.history, sessions={},
                                      scenario=scenario)
                role = f"final-{scenario}" + (f"-{options.hosts.index(target) + 1}"
                                              if target else "")
                reader = made[scenario, target] = Peer(context, 0, role, target)
            readers[code] = reader
        return readers

    def _round(self, readers: dict[str, Peer], held: _Round) -> Results:
        """Read both sides of every session once, into ``held``; what each read returned."""
        for reader in readers.values():
            reader.context.history = held
        results: Results = {}
        pool = Pool(CONCURRENCY)
        for code in sorted(self.sessions):
            pool.spawn(self._read, readers[code], code, results)
        pool.join()
        return results

    @staticmethod
    def _read(reader: Peer, code: str, results: Results) -> None:
        for side in ("offerer", "answerer"):
            result = reader.poll(code, side)
            results[(code, side)] = (result.type, result.status, result.read)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the reads (tolerating interrupts as above); True if they finished."""
        with sigint_deferred():
            self.greenlet.join(timeout)
        return self.greenlet.dead


def ensure_final_reads(recording: Recording, host: str,
                       done: Callable[[FinalReads], None] | None = None) -> FinalReads:
    """The current test's final reads, started now unless already started (never twice:
    ``test_stop`` and ``quitting`` may both get here, in either order)."""
    if recording.final_reads is None:
        recording.final_reads = FinalReads(recording, host, done)
    return recording.final_reads
