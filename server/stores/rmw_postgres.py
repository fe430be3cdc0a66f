"""The read-modify-write baseline on PostgreSQL: rondevu's D1 code over this project's schema.

The negative control for the postgres store: the same database, migrations and reads as
:mod:`.postgres`, with the updates of :mod:`.rmw` (which says what rondevu did and why the list
is rewritten row for row). An update reads the session in one statement, changes it in memory,
and writes the field back later, so two requests that read the same session, in one process or
in two server processes on the database, overwrite each other:

- ``append_candidate`` writes the side's whole list back with its own candidate at the end; a
  concurrent append that read the same list erases this one's, or this one erases it;
- ``set_answer`` writes the answer without looking for an earlier one.

Writing the list back is one transaction that first locks the session's row (as rondevu's
single ``UPDATE`` of the JSON column did), then deletes the side's rows and inserts the list as
written, so the stored list is exactly one written list and never a mixture of two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import limits_of
from .base import Caller, Clock, Side
from .postgres import PostgresStore, reachable
from .readmodifywrite import ReadModifyWrite

if TYPE_CHECKING:
    from ..settings import Settings

_SET_ANSWER_UNCHECKED = "UPDATE sessions SET answer = $3 WHERE code = $1 AND origin = $2"
_LOCK_SESSION = "SELECT code FROM sessions WHERE code = $1 FOR UPDATE"
_CLEAR_SIDE = "DELETE FROM candidates WHERE code = $1 AND side = $2"
_INSERT_CANDIDATE = "INSERT INTO candidates (code, side, seq, candidate) VALUES ($1, $2, $3, $4)"


class RmwPostgresStore(ReadModifyWrite, PostgresStore):
    """:class:`.postgres.PostgresStore` with rondevu's read-then-write updates."""

    async def _write_answer(self, caller: Caller, code: str, answer: str) -> None:
        await self._fetch(_SET_ANSWER_UNCHECKED, code, caller.origin, answer)

    async def _write_list(self, code: str, side: Side, candidates: list[str]) -> None:
        with reachable():
            async with self._pool.acquire() as conn, conn.transaction():
                if await conn.fetchval(_LOCK_SESSION, code) is None:
                    return
                await conn.execute(_CLEAR_SIDE, code, str(side))
                await conn.executemany(_INSERT_CANDIDATE, [
                    (code, str(side), seq, value)
                    for seq, value in enumerate(candidates, start=1)])


async def open_store(settings: Settings, clock: Clock) -> RmwPostgresStore:
    store = await RmwPostgresStore.open(settings.dsn, limits_of(settings), clock)
    assert isinstance(store, RmwPostgresStore)
    return store
