"""rondevu's read-modify-write updates, once for both baselines that make them (:mod:`.rmw` on
SQLite, :mod:`.rmw_postgres` on PostgreSQL).

An update reads the session with the consistent store's own read, changes it in memory, waits
``gap`` (rondevu's Worker awaited a D1 round trip there) and writes the field back in a
separate statement, so two concurrent updates of one session overwrite each other. What each
database does to write the field back is the store's (:meth:`ReadModifyWrite._write_answer`,
:meth:`ReadModifyWrite._write_list`); the window that loses writes is here, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Caller, CandidateLimit, Clock, Side, StoreLimits

if TYPE_CHECKING:
    from .base import Session


class ReadModifyWrite:
    """Mixed in before a consistent store (``class RmwStore(ReadModifyWrite, SqliteStore)``):
    the store's reads, rondevu's updates."""

    gap: float = 0.0
    """Clock seconds between the read and the write (for rmw ``settings.rmw_gap_ms`` times the
    time scale); 0 still yields to the event loop. rondevu's handler awaited a round trip to D1
    there, which is the window in which a concurrent update is lost."""
    _clock: Clock
    _limits: StoreLimits

    if TYPE_CHECKING:
        async def get(self, caller: Caller, code: str) -> Session: ...

    async def set_answer(self, caller: Caller, code: str, answer: str) -> None:
        await self.get(caller, code)  # rondevu's getSession: 404 for an unknown code
        await self._clock.sleep(self.gap)
        await self._write_answer(caller, code, answer)

    async def append_candidate(
        self, caller: Caller, code: str, side: Side, candidate: str
    ) -> None:
        session = await self.get(caller, code)
        current = session.offer_candidates if side is Side.OFFERER else session.answer_candidates
        if len(current) >= self._limits.max_candidates:
            raise CandidateLimit(code, side, self._limits.max_candidates)
        await self._clock.sleep(self.gap)
        await self._write_list(code, side, [*current, candidate])

    async def _write_answer(self, caller: Caller, code: str, answer: str) -> None:
        """Write the answer without looking for an earlier one, as rondevu did."""
        raise NotImplementedError

    async def _write_list(self, code: str, side: Side, candidates: list[str]) -> None:
        """Replace the side's list with ``candidates``, as rondevu's column ``UPDATE`` did; a
        session deleted meanwhile matches nothing, as that ``UPDATE`` matched no row."""
        raise NotImplementedError
