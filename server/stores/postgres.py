"""The recommended store on PostgreSQL: every write one atomic statement, for many server processes.

The same contract as :mod:`.sqlite`, kept the same way, but on a database that several server
processes (``--workers``, or servers on several machines behind a load balancer) share:

* Every write is *one* statement, so it commits or not as a whole, at PostgreSQL's default
  isolation (READ COMMITTED), with no transaction held across an await on the request path.
* The answer is write-once: ``UPDATE ... WHERE answer IS NULL``. A concurrent second answer waits
  for the first one's row lock, then re-checks the condition on the row as committed (PostgreSQL
  re-reads a row it waited for), finds an answer and writes nothing.
* A candidate takes its position from its session's per-side count, incremented by the same
  statement that inserts it (``migrations/postgres/0001_initial.sql`` says why ``MAX(seq) + 1``
  is not enough here): positions follow commit order, and the bound is checked on the locked row.
* A read is one statement, hence one snapshot: a session and both candidate lists together.

Connections come from a pool per process; a statement takes one for its own duration only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import asyncpg

from ..migrate import MigrationError
from ..migrate_postgres import migrate
from ..settings import redact_dsn
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
    StoreUnavailable,
    TopicCount,
    TopicPage,
    now_ms,
)

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

POOL_SIZE = 10
"""Connections per server process: statements are short, so a few serve many requests; four
processes then hold 40 of PostgreSQL's default 100 connections."""
CONNECT_TIMEOUT_S = 10.0
SWEEP_BATCH = 500

_SELECT_SESSION = """
SELECT s.code, s.origin, s.topic, s.peer_id, s.offer, s.answer, s.created_at, s.expires_at,
       ARRAY(SELECT c.candidate FROM candidates c
              WHERE c.code = s.code AND c.side = 'offerer' ORDER BY c.seq) AS offer_candidates,
       ARRAY(SELECT c.candidate FROM candidates c
              WHERE c.code = s.code AND c.side = 'answerer' ORDER BY c.seq) AS answer_candidates
FROM sessions s
WHERE s.code = $1 AND s.origin = $2 AND s.expires_at > $3
"""

_SELECT_BY_TOPIC = """
SELECT code, peer_id, offer, created_at, expires_at, COUNT(*) OVER () AS total FROM sessions
WHERE origin = $1 AND topic = $2 AND answer IS NULL AND expires_at > $3
ORDER BY created_at DESC
LIMIT $4
"""

_SELECT_TOPICS = """
SELECT topic, COUNT(*) AS n, COUNT(*) OVER () AS total FROM sessions
WHERE origin = $1 AND answer IS NULL AND expires_at > $2
GROUP BY topic ORDER BY topic LIMIT $3 OFFSET $4
"""

_COUNT_TOPICS = """
SELECT COUNT(DISTINCT topic) FROM sessions
WHERE origin = $1 AND answer IS NULL AND expires_at > $2
"""

# A code whose session expired but was not swept yet may be chosen again.
_DELETE_EXPIRED_CODE = "DELETE FROM sessions WHERE code = $1 AND expires_at <= $2"

_INSERT_SESSION = """
INSERT INTO sessions (code, origin, topic, peer_id, offer, answer, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)
ON CONFLICT (code) DO NOTHING
RETURNING code
"""

_SET_ANSWER = """
UPDATE sessions SET answer = $4
WHERE code = $1 AND origin = $2 AND expires_at > $3 AND answer IS NULL
RETURNING code
"""

# One statement per side, the count column named from this fixed pair, never from input.
_COUNT_COLUMN = {Side.OFFERER: "offerer_candidates", Side.ANSWERER: "answerer_candidates"}
_APPEND_CANDIDATE = {side: f"""
WITH counted AS (
    UPDATE sessions SET {column} = {column} + 1
    WHERE code = $1 AND origin = $2 AND expires_at > $3 AND {column} < $4
    RETURNING code, {column} AS seq
)
INSERT INTO candidates (code, side, seq, candidate)
SELECT code, '{side}', seq, $5 FROM counted
RETURNING seq
""" for side, column in _COUNT_COLUMN.items()}

_DELETE_SESSION = """
DELETE FROM sessions WHERE code = $1 AND origin = $2 AND expires_at > $3
RETURNING code
"""

# SKIP LOCKED: the sweepers of several processes take different rows instead of waiting.
_SWEEP = """
DELETE FROM sessions WHERE code IN
  (SELECT code FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
"""

_LOST_CONNECTION = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """A database that cannot be reached is a 500 saying so, not a traceback."""
    try:
        yield
    except _LOST_CONNECTION as error:
        raise StoreUnavailable(f"the database did not answer: {error}") from None


def _session_from_row(row: asyncpg.Record) -> Session:
    return Session(
        code=row["code"], origin=row["origin"], topic=row["topic"], peer_id=row["peer_id"],
        offer=row["offer"], answer=row["answer"],
        offer_candidates=tuple(row["offer_candidates"]),
        answer_candidates=tuple(row["answer_candidates"]),
        created_at=row["created_at"], expires_at=row["expires_at"],
    )


class PostgresStore:
    """Sessions in one PostgreSQL database; see the module docstring for the design."""

    def __init__(self, pool: asyncpg.Pool, limits: StoreLimits, clock: Clock) -> None:
        self._pool = pool
        self._limits = limits
        self._clock = clock

    @classmethod
    async def open(cls, dsn: str, limits: StoreLimits, clock: Clock) -> PostgresStore:
        """Connect, migrate (once across processes) and return the store; error messages show
        the DSN without its password."""
        shown_as = redact_dsn(dsn)
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_SIZE,
                                             timeout=CONNECT_TIMEOUT_S)
        except (asyncpg.PostgresError, *_LOST_CONNECTION, TimeoutError) as error:
            raise StartupError(f"cannot connect to {shown_as}: {error}") from None
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except asyncpg.PostgresError as error:
            await pool.close()
            raise MigrationError(f"cannot migrate {shown_as}: {error}") from None
        except _LOST_CONNECTION as error:  # the connection dropped while migrating
            await pool.close()
            raise StartupError(f"cannot connect to {shown_as}: {error}") from None
        except BaseException:
            await pool.close()
            raise
        return cls(pool, limits, clock)

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """One statement on a pooled connection."""
        with reachable():
            return await self._pool.fetch(sql, *args)

    def _now(self) -> int:
        return now_ms(self._clock)

    def problem(self) -> str | None:
        return "the database connections are closed" if self._pool.is_closing() else None

    async def create(
        self, caller: Caller, *, code: str, topic: str, peer_id: str, offer: str
    ) -> Session:
        now = self._now()
        expires = now + self._limits.session_ttl_ms
        await self._fetch(_DELETE_EXPIRED_CODE, code, now)
        inserted = await self._fetch(_INSERT_SESSION, code, caller.origin, topic, peer_id,
                                     offer, now, expires)
        if not inserted:
            raise CodeInUse(f"code {code!r} is already in use")
        return Session(code, caller.origin, topic, peer_id, offer, None, (), (), now, expires)

    async def get(self, caller: Caller, code: str) -> Session:
        rows = await self._fetch(_SELECT_SESSION, code, caller.origin, self._now())
        if not rows:
            raise SessionNotFound(code)
        return _session_from_row(rows[0])

    async def set_answer(self, caller: Caller, code: str, answer: str) -> None:
        if await self._fetch(_SET_ANSWER, code, caller.origin, self._now(), answer):
            return
        # Nothing was written: a write-once answer never changes once set, so this read
        # cannot race into a wrong verdict.
        session = await self.get(caller, code)
        if session.answer != answer:
            raise AnswerConflict(f"session {code!r} already has a different answer")

    async def append_candidate(
        self, caller: Caller, code: str, side: Side, candidate: str
    ) -> None:
        if await self._fetch(_APPEND_CANDIDATE[side], code, caller.origin, self._now(),
                             self._limits.max_candidates, candidate):
            return
        await self.get(caller, code)  # raises SessionNotFound
        raise CandidateLimit(code, side, self._limits.max_candidates)

    async def list_by_topic(self, caller: Caller, topic: str, *, limit: int) -> SessionPage:
        rows = await self._fetch(_SELECT_BY_TOPIC, caller.origin, topic, self._now(), limit)
        summaries = [SessionSummary(*row[:5]) for row in rows]
        return SessionPage(summaries, rows[0]["total"] if rows else 0)

    async def list_topics(self, caller: Caller, *, page: int, limit: int) -> TopicPage:
        now = self._now()
        rows = await self._fetch(_SELECT_TOPICS, caller.origin, now, limit, (page - 1) * limit)
        if rows:
            total = rows[0]["total"]
        else:  # a page past the end still reports how many topics there are
            total = (await self._fetch(_COUNT_TOPICS, caller.origin, now))[0][0]
        return TopicPage([TopicCount(row["topic"], row["n"]) for row in rows], total)

    async def leave(self, caller: Caller, code: str) -> None:
        if not await self._fetch(_DELETE_SESSION, code, caller.origin, self._now()):
            raise SessionNotFound(code)

    async def sweep_expired(self) -> int:
        """Delete in small batches, so no statement holds many row locks for long."""
        total = 0
        while True:
            with reachable():
                status = await self._pool.execute(_SWEEP, self._now(), SWEEP_BATCH)
            deleted = int(status.split()[-1])  # "DELETE 12"
            total += deleted
            if deleted < SWEEP_BATCH:
                return total

    async def close(self) -> None:
        await self._pool.close()


async def open_store(settings: Settings, clock: Clock) -> PostgresStore:
    return await PostgresStore.open(settings.dsn, limits_of(settings), clock)
