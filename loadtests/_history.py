"""The history file: one JSON line per operation, as ``docs/history.md`` (format 2) defines it.

Fields of every line (``docs/history.md`` is the contract; this is how we fill it):

``op``       ``create``, ``answer``, ``candidate``, ``poll``, ``list``, ``leave``
``session``  the code (for ``create``: the code returned; null when none came back)
``side``     ``offerer``/``answerer`` for ``candidate`` and ``poll``; ``answerer`` for ``answer``
``client``   ``<hostname>/<pid>/<user>/<role>``; a role's concurrent requests use lanes
             ``<role>``, ``<role>.2``, ... so that one client's operations never overlap
``value``    for writes, the token written (offer token for ``create``)
``t0``/``t1`` ``time.monotonic_ns()`` at invoke and completion (or when the client gave up)
``host``     ``<hostname>:<boot_id>``
``status``   the HTTP status, null when no response came
``type``     ``ok`` (2xx), ``fail`` (400, 404, 409, 413: changed nothing), ``info`` (anything else)
``read``     for ok polls the tokens seen; for ok lists ``{"sessions": [codes]}``
``final``    true on the reads after the load stopped and the settle time passed
``settling`` (extra) on a round of reads after the load that was not taken as final: the
             round number (``_final_reads``); never together with ``final``
``error``    for fail/info: the server's error or the exception, short
``server_ms`` (extra) the ``Server-Timing: app;dur=`` the server reported
``scenario`` (extra) the Locust user class that ran the operation

An operation invoked but interrupted before it completed (the load stopped under it) is an
``info`` whose ``error`` starts with ``interrupted``; Locust never counted it.

Lines are encoded with orjson: one line per operation is the load generator's own cost per
operation, and orjson encodes a record several times faster than the standard library.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

log = logging.getLogger(__name__)

FAIL_STATUSES = frozenset({400, 404, 409, 413})
READS = frozenset({"poll", "list"})
"""Operations that change nothing, so a dropped one may be sent again."""
INTERRUPTED = "interrupted"


def outcome_type(status: int | None) -> str:
    """``ok``, ``fail`` or ``info`` for an HTTP status (None: no response)."""
    if status is not None and 200 <= status < 300:
        return "ok"
    if status in FAIL_STATUSES:
        return "fail"
    return "info"


def history_line(record: dict[str, Any]) -> bytes:
    """One record as its line's JSON, compact, without the newline (``docs/history.md``)."""
    return orjson.dumps(record)


class Sink(Protocol):
    """Where history lines go: a :class:`HistoryFile`, or a round of final reads held until it
    is known whether the round is final (``_final_reads``)."""

    def write(self, record: dict[str, Any]) -> None: ...


class HistoryFile:
    """Appends history lines to one file, each flushed as it is written, so a crash loses at
    most the line being written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lines = 0
        self._file: IO[bytes] | None = path.open("ab")
        log.info("recording history to %s", path)

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            log.error("history line after close dropped: %s", record)
            return
        self._file.write(history_line(record) + b"\n")
        self._file.flush()
        self.lines += 1

    @property
    def closed(self) -> bool:
        return self._file is None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            log.info("history %s closed after %d lines", self.path, self.lines)
