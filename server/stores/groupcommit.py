"""Group commit: the sqlite store's one writer connection, on a thread of its own.

With ``synchronous=FULL`` every commit waits for an fsync (about 1,250 a second on the
development machine's disk), so a transaction per write caps durable writes at the disk's fsync
rate however fast the rest is. Writes that arrive while a commit is under way are queued
instead, and the next transaction takes all of them: ``BEGIN IMMEDIATE``, each write under its
own ``SAVEPOINT``, one ``COMMIT``, one fsync. No write waits on purpose for company: a write
that finds the writer idle is committed at once, and under load the groups grow by themselves
to the number of writes in flight.

What each write keeps:

* **Atomicity**: a write is one or more statements (an append is one ``INSERT ... SELECT``,
  the store's statements are unchanged); its savepoint makes them all or nothing, and nothing
  else runs inside it.
* **Isolation of failures**: a statement that raises is rolled back to its write's savepoint and
  fails that write alone; the rest of the group commits. The store's refusals (unknown code,
  bound reached, a second answer) are not errors at all here: their statements match no row and
  change nothing, and the store finds out why afterwards. If SQLite rolls the whole transaction
  back (a full disk, an I/O error), the writes before the failing one are undone with it, so
  they go back to the queue and are tried again in the next group: nothing of theirs was
  committed, and nothing was acknowledged.
* **Durability of every acknowledgement**: a write's caller resumes only after the ``COMMIT``
  that holds it has returned, so a crash between two groups loses only writes that nobody was
  told had succeeded.

Why a thread of our own (a one-thread executor with a plain :mod:`sqlite3` connection) rather
than aiosqlite's: a group is Python code run next to the database (savepoints, one outcome per
write), and aiosqlite offers only a statement per round trip to its thread, which would make a
group of 50 writes some 150 round trips instead of one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

Statement = tuple[str, Mapping[str, Any] | Sequence[Any]]
"""One SQL statement and its parameters."""


class _Retry:
    """The outcome of a write undone with its whole group: it goes into the next one."""


RETRY = _Retry()


@dataclass(slots=True)
class _Write:
    statements: Sequence[Statement]
    future: asyncio.Future[list[Any]]


def _apply(conn: sqlite3.Connection, statements: Sequence[Statement]) -> list[Any]:
    rows: list[Any] = []
    for sql, params in statements:
        rows = conn.execute(sql, params).fetchall()
    return rows


def commit_group(conn: sqlite3.Connection, writes: Sequence[Sequence[Statement]],
                 check: Callable[[], None]) -> list[object]:
    """In the writer's thread: every write in one transaction; each one's outcome, in order
    (the rows of its last statement, the exception that failed it, or :data:`RETRY`)."""
    try:
        check()
        conn.execute("BEGIN IMMEDIATE")
    except Exception as error:  # the check refused, or the write lock not had in busy_timeout
        return [error] * len(writes)
    outcomes: list[object] = []
    try:
        for statements in writes:
            conn.execute("SAVEPOINT write")
            try:
                outcome: object = _apply(conn, statements)
            except Exception as error:
                if not conn.in_transaction:  # SQLite rolled the whole group back
                    undone: list[object] = [RETRY] * len(writes)
                    undone[len(outcomes)] = error
                    return undone
                conn.execute("ROLLBACK TO write")
                outcome = error
            conn.execute("RELEASE write")
            outcomes.append(outcome)
        conn.execute("COMMIT")
    except sqlite3.Error as error:  # the COMMIT (or a savepoint) failed: nothing is committed
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return [error] * len(writes)
    return outcomes


class GroupWriter:
    """The writer connection: :meth:`write` queues a write into the next group commit."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor,
                 check: Callable[[], None]) -> None:
        self._conn = conn
        self._executor = executor
        self._check = check
        self._loop = asyncio.get_running_loop()
        self._queue: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None
        self.groups = 0
        self.writes = 0

    @classmethod
    async def open(cls, connect: Callable[[], sqlite3.Connection],
                   check: Callable[[], None]) -> GroupWriter:
        """Open the connection (``connect``) on the writer's own thread, where it stays.
        ``check`` runs there before each group: what it raises fails every write of the group
        (the store's check that its database file is still the one it opened, one ``stat``
        per group instead of one per write)."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown()
            raise
        return cls(conn, executor, check)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the connection on the writer's thread, between two groups (never
        inside one): start-up's pragmas and migrations."""
        return await self._loop.run_in_executor(self._executor, fn, self._conn)

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """One statement outside any group, its rows (a pragma set or read back)."""
        return await self.call(lambda conn: conn.execute(sql, params).fetchall())

    async def write(self, *statements: Statement) -> list[Any]:
        """Run ``statements`` in order as one atomic write in the next group; the rows of the
        last one, once the group has committed. Raises what failed the write."""
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self._queue.append(_Write(statements, future))
        if self._flusher is None:
            self._flusher = self._loop.create_task(self._flush(), name="sqlite-group-commit")
        return await future

    async def _flush(self) -> None:
        """Commit groups until the queue is empty: each takes every write queued meanwhile."""
        try:
            while self._queue:
                group, self._queue = self._queue, []
                try:
                    outcomes = await self._loop.run_in_executor(
                        self._executor, commit_group, self._conn, [w.statements for w in group],
                        self._check)
                except asyncio.CancelledError:  # the loop is closing: nobody is acknowledged
                    for write in (*group, *self._queue):
                        write.future.cancel()
                    raise
                except Exception as error:  # the executor is shut down: the store was closed
                    outcomes = [error] * len(group)
                self.groups += 1
                again = self._settle(group, outcomes)
                self.writes += len(group) - len(again)
                self._queue[:0] = again
        finally:
            self._flusher = None

    @staticmethod
    def _settle(group: list[_Write], outcomes: list[object]) -> list[_Write]:
        """Resume each write's caller with its outcome; the writes to try again."""
        again = []
        for write, outcome in zip(group, outcomes):
            if outcome is RETRY:
                again.append(write)
            elif write.future.done():  # its caller was cancelled and is not waiting
                continue
            elif isinstance(outcome, BaseException):
                write.future.set_exception(outcome)
            else:
                write.future.set_result(outcome)  # type: ignore[arg-type]
        return again

    async def close(self) -> None:
        """Finish the queued writes, then close the connection and stop the thread."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self.groups:
            log.info("committed %d writes in %d groups (%.1f writes per commit)",
                     self.writes, self.groups, self.writes / self.groups)
        try:
            await self.call(sqlite3.Connection.close)
        finally:
            self._executor.shutdown()
