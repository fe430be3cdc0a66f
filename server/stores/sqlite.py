"""The recommended store: every write one atomic SQLite statement, committed in groups; reads on
the event loop's own connection.

Design, for throughput and for correctness under racing clients:

* Every write is *one* statement (``INSERT ... SELECT ... RETURNING``, ``UPDATE ... WHERE answer
  IS NULL RETURNING``; a create first deletes an expired session under the same code): SQLite
  decides a candidate's position and checks the bound, or sets the answer only if none is set,
  inside that one statement, so racing clients cannot interleave with it.
* One writer connection, on a thread of its own, commits writes in groups
  (:mod:`.groupcommit`): the writes that arrive while one transaction commits share the next
  one, each under its own savepoint, so a durable (fsynced) commit is paid once per group, not
  once per write, and a request is answered only after the commit that holds its write.
* One reader connection (``query_only``) in WAL mode, used on the event loop's thread: a WAL
  reader never waits for the writer, and a poll by primary key takes some tens of microseconds,
  less than a round trip to another thread would. Each read is one statement, hence one
  snapshot: a session and both of its candidate lists are always read together, and a read that
  starts after a write's commit sees it (linearizable per session).
* The failure paths (404 vs 409 vs 413) are decided by a read only after a write matched no
  row: nothing was written, so it costs nothing on the success path, and a refused write never
  fails the others of its group.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import jsoncodec
from ..migrate import migrate
from . import limits_of
from .base import (
    AnswerConflict,
    Caller,
    CandidateLimit,
    Clock,
    CodeInUse,
    Session,
    SessionNotFound,
    SessionPage,
    SessionSummary,
    Side,
    StartupError,
    StoreLimits,
    TopicCount,
    TopicPage,
    now_ms,
)
from .dbfile import DatabaseFile
from .groupcommit import GroupWriter

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

SWEEP_BATCH = 500

_SESSION_COLUMNS = """
    s.code, s.origin, s.topic, s.peer_id, s.offer, s.answer, s.created_at, s.expires_at,
    (SELECT json_group_array(json_array(c.side, c.seq, c.candidate))
       FROM candidates c WHERE c.code = s.code) AS candidates
"""

_SELECT_SESSION = f"""
SELECT {_SESSION_COLUMNS} FROM sessions s
WHERE s.code = :code AND s.origin = :origin AND s.expires_at > :now
"""

# No candidates: a listing reads only what it shows. The window count is taken before LIMIT.
_SELECT_BY_TOPIC = """
SELECT code, peer_id, offer, created_at, expires_at, COUNT(*) OVER () AS total FROM sessions
WHERE origin = :origin AND topic = :topic AND answer IS NULL AND expires_at > :now
ORDER BY created_at DESC
LIMIT :limit
"""

_SELECT_TOPICS = """
SELECT topic, COUNT(*) AS n, COUNT(*) OVER () AS total FROM sessions
WHERE origin = :origin AND answer IS NULL AND expires_at > :now
GROUP BY topic ORDER BY topic LIMIT :limit OFFSET :offset
"""

_COUNT_TOPICS = """
SELECT COUNT(DISTINCT topic) FROM sessions
WHERE origin = :origin AND answer IS NULL AND expires_at > :now
"""

_INSERT_SESSION = """
INSERT INTO sessions (code, origin, topic, peer_id, offer, answer, created_at, expires_at)
VALUES (:code, :origin, :topic, :peer_id, :offer, NULL, :now, :expires)
ON CONFLICT (code) DO NOTHING
RETURNING code
"""

# A code whose session expired but was not swept yet may be chosen again.
_DELETE_EXPIRED_CODE = "DELETE FROM sessions WHERE code = :code AND expires_at <= :now"

_SET_ANSWER = """
UPDATE sessions SET answer = :answer
WHERE code = :code AND origin = :origin AND expires_at > :now AND answer IS NULL
RETURNING code
"""

# The order (seq) and the bound are decided inside the one statement that appends.
_APPEND_CANDIDATE = """
INSERT INTO candidates (code, side, seq, candidate)
SELECT s.code, :side, n.last + 1, :candidate
FROM sessions s,
     (SELECT COALESCE(MAX(seq), 0) AS last FROM candidates
       WHERE code = :code AND side = :side) n
WHERE s.code = :code AND s.origin = :origin AND s.expires_at > :now AND n.last < :max
RETURNING seq
"""

_DELETE_SESSION = """
DELETE FROM sessions WHERE code = :code AND origin = :origin AND expires_at > :now
RETURNING code
"""

_SWEEP = """
DELETE FROM sessions WHERE code IN
  (SELECT code FROM sessions WHERE expires_at <= :now LIMIT :batch)
RETURNING code
"""


def _session_from_row(row: Sequence[Any]) -> Session:
    code, origin, topic, peer_id, offer, answer, created_at, expires_at, candidates = row
    lists: dict[str, list[tuple[int, str]]] = {"offerer": [], "answerer": []}
    for side, seq, candidate in jsoncodec.loads(candidates):
        lists[side].append((seq, candidate))
    ordered = {side: tuple(c for _, c in sorted(items)) for side, items in lists.items()}
    return Session(
        code=code,
        origin=origin,
        topic=topic,
        peer_id=peer_id,
        offer=offer,
        answer=answer,
        offer_candidates=ordered["offerer"],
        answer_candidates=ordered["answerer"],
        created_at=created_at,
        expires_at=expires_at,
    )


def connect(path: Path, *, query_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (every transaction here is explicit). A WAL reader waits
    on a lock only in rare moments (another connection recovering the WAL), so the busy timeout
    almost never blocks the reader's thread, and then briefly."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if query_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


class SqliteStore:
    """Sessions in one SQLite file; see the module docstring for the transaction design."""

    def __init__(
        self,
        writer: GroupWriter,
        reader: sqlite3.Connection,
        limits: StoreLimits,
        clock: Clock,
        file: DatabaseFile,
    ) -> None:
        self._file = file
        self._writer = writer
        self._reader = reader
        self._limits = limits
        self._clock = clock

    @classmethod
    async def open(
        cls, path: Path, limits: StoreLimits, clock: Clock, *, synchronous: str = "FULL"
    ) -> SqliteStore:
        """Open (creating if needed) and migrate ``path``.

        ``synchronous=FULL`` (the default) fsyncs the WAL at every commit, so an acknowledged
        write survives a power cut; ``NORMAL`` survives a killed process only, for speed.
        """
        try:
            sqlite3.connect(path).close()  # creates the file: its identity is known from here on
            file = DatabaseFile(path)
            writer = await GroupWriter.open(lambda: connect(path, query_only=False), file.check)
        except sqlite3.Error as error:
            raise StartupError(f"cannot open database {path}: {error}") from None
        try:
            mode = await writer.execute_fetchall("PRAGMA journal_mode = WAL")
            if mode[0][0] != "wal":
                raise StartupError(f"database {path} cannot use WAL mode (got {mode[0][0]})")
            await writer.execute_fetchall(f"PRAGMA synchronous = {synchronous}")
            await writer.call(migrate)
            reader = connect(path, query_only=True)
        except sqlite3.Error as error:
            await writer.close()
            raise StartupError(f"cannot use database {path}: {error}") from None
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader, limits, clock, file)

    def _read(self, sql: str, params: dict[str, Any]) -> list[Any]:
        self._file.check()  # a reader of a deleted file fails with "disk I/O error"
        return self._reader.execute(sql, params).fetchall()

    def problem(self) -> str | None:
        return self._file.problem()

    def _now(self) -> int:
        return now_ms(self._clock)

    async def create(
        self, caller: Caller, *, code: str, topic: str, peer_id: str, offer: str
    ) -> Session:
        now = self._now()
        expires = now + self._limits.session_ttl_ms
        inserted = await self._writer.write(
            (_DELETE_EXPIRED_CODE, {"code": code, "now": now}),
            (_INSERT_SESSION,
             {"code": code, "origin": caller.origin, "topic": topic, "peer_id": peer_id,
              "offer": offer, "now": now, "expires": expires}),
        )
        if not inserted:
            raise CodeInUse(f"code {code!r} is already in use")
        return Session(code, caller.origin, topic, peer_id, offer, None, (), (), now, expires)

    async def get(self, caller: Caller, code: str) -> Session:
        rows = self._read(
            _SELECT_SESSION, {"code": code, "origin": caller.origin, "now": self._now()}
        )
        if not rows:
            raise SessionNotFound(code)
        return _session_from_row(rows[0])

    async def set_answer(self, caller: Caller, code: str, answer: str) -> None:
        updated = await self._writer.write((
            _SET_ANSWER,
            {"answer": answer, "code": code, "origin": caller.origin, "now": self._now()},
        ))
        if updated:
            return
        # Nothing was written: find out why. A write-once answer never changes once set, so
        # this read cannot race into a wrong verdict.
        session = await self.get(caller, code)
        if session.answer != answer:
            raise AnswerConflict(f"session {code!r} already has a different answer")

    async def append_candidate(
        self, caller: Caller, code: str, side: Side, candidate: str
    ) -> None:
        appended = await self._writer.write((
            _APPEND_CANDIDATE,
            {"code": code, "side": str(side), "candidate": candidate, "origin": caller.origin,
             "now": self._now(), "max": self._limits.max_candidates},
        ))
        if appended:
            return
        await self.get(caller, code)  # raises SessionNotFound
        raise CandidateLimit(code, side, self._limits.max_candidates)

    async def list_by_topic(self, caller: Caller, topic: str, *, limit: int) -> SessionPage:
        rows = self._read(
            _SELECT_BY_TOPIC,
            {"origin": caller.origin, "topic": topic, "now": self._now(), "limit": limit},
        )
        summaries = [SessionSummary(*row[:5]) for row in rows]
        return SessionPage(summaries, rows[0][5] if rows else 0)

    async def list_topics(self, caller: Caller, *, page: int, limit: int) -> TopicPage:
        params = {"origin": caller.origin, "now": self._now()}
        rows = self._read(
            _SELECT_TOPICS, {**params, "limit": limit, "offset": (page - 1) * limit}
        )
        if rows:
            total = rows[0][2]
        else:  # a page past the end still reports how many topics there are
            total = self._read(_COUNT_TOPICS, params)[0][0]
        return TopicPage([TopicCount(topic, n) for topic, n, _ in rows], total)

    async def leave(self, caller: Caller, code: str) -> None:
        deleted = await self._writer.write(
            (_DELETE_SESSION, {"code": code, "origin": caller.origin, "now": self._now()})
        )
        if not deleted:
            raise SessionNotFound(code)

    async def sweep_expired(self) -> int:
        """Delete in small batches, each one write, so requests never wait long behind a
        sweep's group."""
        total = 0
        while True:
            batch = (_SWEEP, {"now": self._now(), "batch": SWEEP_BATCH})
            deleted = len(await self._writer.write(batch))
            total += deleted
            if deleted < SWEEP_BATCH:
                return total
            await asyncio.sleep(0)

    async def close(self) -> None:
        self._reader.close()
        await self._writer.close()


async def open_store(settings: Settings, clock: Clock) -> SqliteStore:
    return await SqliteStore.open(
        settings.db, limits_of(settings), clock, synchronous=settings.synchronous.upper()
    )
