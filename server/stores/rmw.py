"""The read-modify-write baseline: rondevu's first D1 code, over this project's SQLite schema.

Storage is strongly consistent (the same database, migrations and read queries as
:mod:`.sqlite`); the handler is what loses writes. As rondevu's D1 ``/answer`` handler did
(its commit 02d460f), an update reads the session in one statement, changes it in memory, and
writes the field back in a separate statement after a real await, so concurrent requests
interleave between the two. That await is modelled: the store sleeps ``rmw_gap_ms`` (one D1
statement round trip, scaled by ``time_scale``) between the read and the write, as the Worker
waited for D1; everything else is real local SQLite, far faster than D1:

- ``append_candidate`` reads the side's list and writes the whole list back, with the new
  candidate at its end: two appends that read the same list each write it back with only their
  own candidate, and the later write erases the earlier one;
- ``set_answer`` writes the answer without looking for an earlier one: a second, different
  answer silently replaces the first, and both are acknowledged.

rondevu kept each list as a JSON column and wrote it with one ``UPDATE``. Here a list is rows
(``migrations/0001_initial.sql``), so "write the column back" is its row-for-row equivalent: one
atomic write (one savepoint of the writer's group commit, :mod:`.groupcommit`) that deletes the
side's rows and inserts the list as written. The stored list then equals exactly the list
written, as the column would, and no other statement runs inside that write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import limits_of
from .base import Caller, Clock, Side, StoreLimits
from .readmodifywrite import ReadModifyWrite
from .sqlite import SqliteStore

if TYPE_CHECKING:
    from ..settings import Settings

_SET_ANSWER_UNCHECKED = """
UPDATE sessions SET answer = :answer WHERE code = :code AND origin = :origin
"""

_CLEAR_SIDE = "DELETE FROM candidates WHERE code = :code AND side = :side"

# rondevu's UPDATE matched no row when the session had gone meanwhile; so does this.
_INSERT_CANDIDATE = """
INSERT INTO candidates (code, side, seq, candidate)
SELECT :code, :side, :seq, :candidate WHERE EXISTS (SELECT 1 FROM sessions WHERE code = :code)
"""


class RmwStore(ReadModifyWrite, SqliteStore):
    """:class:`.sqlite.SqliteStore` with rondevu's read-then-write updates."""

    @classmethod
    async def open(
        cls, path: Path, limits: StoreLimits, clock: Clock, *, synchronous: str = "FULL",
        gap: float = 0.0,
    ) -> RmwStore:
        store = await super().open(path, limits, clock, synchronous=synchronous)
        assert isinstance(store, RmwStore)
        store.gap = gap
        return store

    async def _write_answer(self, caller: Caller, code: str, answer: str) -> None:
        await self._writer.write(
            (_SET_ANSWER_UNCHECKED, {"answer": answer, "code": code, "origin": caller.origin})
        )

    async def _write_list(self, code: str, side: Side, candidates: list[str]) -> None:
        await self._writer.write(
            (_CLEAR_SIDE, {"code": code, "side": str(side)}),
            *((_INSERT_CANDIDATE, {"code": code, "side": str(side), "seq": seq,
                                   "candidate": candidate})
              for seq, candidate in enumerate(candidates, start=1)),
        )


async def open_store(settings: Settings, clock: Clock) -> RmwStore:
    return await RmwStore.open(
        settings.db, limits_of(settings), clock, synchronous=settings.synchronous.upper(),
        gap=settings.rmw_gap_ms / 1000.0 * settings.time_scale,
    )
