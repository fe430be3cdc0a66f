"""A distributed run's history: every worker's lines reach the master's run folder, no shared disk.

Locust's master and workers may run on different machines (``locust --master`` / ``locust
--worker --master-host ...``), so a worker does not write its history where it runs: it sends the
lines to the master over Locust's own worker-to-master channel (``runner.send_message``), in
batches, and the master writes ``history/<worker hostname>-<pid>.jsonl`` in its run folder, the
file the worker would have written. ``python -m analysis check`` on the master's folder then sees
every operation of every worker.

- A worker's :class:`HistoryStream` has :class:`~loadtests._history.HistoryFile`'s interface. It
  announces itself when the test starts (an empty batch), sends a batch every
  :data:`FLUSH_S` or :data:`BATCH_LINES` lines, and a last one when it closes, after its final
  reads, which come after the load stops; it then waits for the master to confirm that the file
  is complete before the worker may exit (an unsent message dies with its process).
- The master's :class:`HistoryCollector` writes each batch as it arrives. When the master quits,
  it waits (``quitting``) until every worker that announced itself has sent its last batch: a
  master that exits first would leave the final reads unrecorded. Locust's master has stopped
  listening to its workers by then (``runner.quit``), so the collector listens again meanwhile,
  through the runner's own listener, so Locust's messages (the workers' last statistics) are
  handled as usual.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gevent
from gevent.event import Event
from locust.exception import RPCError
from locust.runners import MasterRunner, WorkerRunner

from loadtests._history import history_line

log = logging.getLogger(__name__)

LINES = "harness-history"
"""Worker to master: ``{"source", "lines": [JSON text], "last": bool}``."""
CLOSED = "harness-history-closed"
"""Master to worker: ``{"source"}``, once the source's last batch is written."""
BATCH_LINES = 500
FLUSH_S = 0.5
CONFIRM_S = 60.0
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class HistoryStream:
    """A worker's history lines, sent to the master (the interface of ``HistoryFile``)."""

    def __init__(self, runner: Any, source: str, path: Path) -> None:
        self.runner = runner
        self.source = source
        self.path = path
        """Where the master writes it (relative to the master's working folder)."""
        self.lines = 0
        self._batch: list[str] = []
        self._closed = False
        self._confirmed = _receipts.setdefault(source, Event())
        self._confirmed.clear()
        self._send(last=False)  # the master now waits for this source's last batch
        self._flusher = gevent.spawn(self._flush_every)
        log.info("sending history %s to the master", source)

    def write(self, record: dict[str, Any]) -> None:
        if self._closed:
            log.error("history line after close dropped: %s", record)
            return
        self._batch.append(history_line(record).decode())
        self.lines += 1
        if len(self._batch) >= BATCH_LINES:
            self._send(last=False)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Send what is left and wait (at most :data:`CONFIRM_S`) for the master's receipt."""
        if self._closed:
            return
        self._closed = True
        self._flusher.kill(block=True)
        self._send(last=True)
        if self._batch:
            log.error("the master cannot be reached: history %s lacks its last %d lines",
                      self.source, len(self._batch))
        elif self._wait_confirmed():
            log.info("history %s complete at the master after %d lines", self.source,
                     self.lines)
        else:
            log.error("the master did not confirm history %s within %.0f s: the run folder "
                      "may lack its last lines", self.source, CONFIRM_S)

    def _flush_every(self) -> None:
        while True:
            gevent.sleep(FLUSH_S)
            if self._batch:
                self._send(last=False)

    def _send(self, *, last: bool) -> None:
        batch, self._batch = self._batch, []
        try:
            self.runner.send_message(LINES, {"source": self.source, "lines": batch,
                                             "last": last})
        except RPCError as error:  # kept for the next batch: nothing is dropped
            log.error("sending history to the master failed (%s); retrying with the next "
                      "batch", error)
            self._batch = batch + self._batch

    def _wait_confirmed(self) -> bool:
        """Wait for :data:`CLOSED`. Once the master said quit, the worker's message loop is
        gone (``runner.quit`` kills it), so the answer is then read from the socket here."""
        if self.runner.greenlet:  # Locust's loop still dispatches messages (_on_closed)
            return bool(self._confirmed.wait(CONFIRM_S))
        with gevent.Timeout(CONFIRM_S, False):
            while True:
                msg = self.runner.client.recv()
                if msg.type == CLOSED and (msg.data or {}).get("source") == self.source:
                    return True
        return False


_receipts: dict[str, Event] = {}
"""A worker's sources, set once the master confirmed the last batch."""


def _on_closed(environment: Any, msg: Any, **_: Any) -> None:
    receipt = _receipts.get(str((msg.data or {}).get("source")))
    if receipt is not None:
        receipt.set()


@dataclass
class _Source:
    path: Path
    file: IO[str]
    lines: int = 0


@dataclass
class HistoryCollector:
    """The master's end: one history file per worker, and waiting for all of them at quit."""

    folder: Path | None = None
    open: dict[str, _Source] = field(default_factory=dict)
    """By worker node id: the sources whose last batch has not come yet."""
    done: Event = field(default_factory=Event)

    def on_lines(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data or {}
        source = self.open.get(msg.node_id) or self._open(msg.node_id, str(data.get("source")))
        if source is None:
            return
        if data.get("lines"):
            source.file.write("\n".join(data["lines"]) + "\n")
            source.lines += len(data["lines"])
        if data.get("last"):
            source.file.close()
            del self.open[msg.node_id]
            log.info("history %s complete: %d lines", source.path, source.lines)
            environment.runner.send_message(CLOSED, {"source": data.get("source")},
                                            client_id=msg.node_id)
            if not self.open:
                self.done.set()

    def _open(self, node: str, name: str) -> _Source | None:
        if self.folder is None or not _SOURCE.match(name):
            log.error("history from worker %s dropped: %s", node,
                      "no run folder yet" if self.folder is None else f"bad name {name!r}")
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        taken = {source.path for source in self.open.values()}
        path, copy = self.folder / f"{name}.jsonl", 1
        while path in taken or path.exists():  # another worker of the same name, or a restart
            copy += 1
            path = self.folder / f"{name}-{copy}.jsonl"
        self.done.clear()
        self.open[node] = source = _Source(path, path.open("a", encoding="utf-8"))
        log.info("receiving history of worker %s into %s", node, path)
        return source

    def wait_for_workers(self, runner: Any, timeout: float) -> None:
        """At the master's quit: tell the workers to quit (if Locust has not) and wait until
        every open history is complete, listening to the workers meanwhile."""
        if not self.open:
            return
        log.info("waiting up to %.0f s for the histories of %d worker(s)", timeout,
                 len(self.open))
        if runner.greenlet:
            runner.quit()  # a Ctrl-C quits before the workers are told; then it stops listening
        listener = gevent.spawn(runner.client_listener)
        try:
            if not self.done.wait(timeout):
                log.error("histories still incomplete after %.0f s: %s", timeout,
                          ", ".join(str(source.path) for source in self.open.values()))
        finally:
            listener.kill(block=True)
            for source in self.open.values():
                source.file.close()


_collectors: weakref.WeakKeyDictionary[Any, HistoryCollector] = weakref.WeakKeyDictionary()


def attach(environment: Any) -> None:
    """Register the messages on a distributed runner (once, when Locust initialises)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        collector = _collectors[environment] = HistoryCollector()
        runner.register_message(LINES, collector.on_lines)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(CLOSED, _on_closed)


def collector_for(environment: Any) -> HistoryCollector | None:
    """The master's collector (None in any other process)."""
    return _collectors.get(environment)
