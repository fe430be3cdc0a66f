"""Storage backends behind one protocol, chosen by the ``--backend`` setting.

This registry is the one place that lists the backends: the server's ``--backend`` choices, the
comparison's default ``--backends``, the report's one-line description of each store, the gate
the harness holds it to (and the one under a nemesis that kills it), whether its storage
latency is real or modelled, its colour in the figures and where it keeps sessions all come
from :data:`BACKENDS`, so adding a backend is one entry here and one module.
Each backend module exposes ``async def open_store(settings, clock) -> Store``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Clock, Store, StoreLimits

if TYPE_CHECKING:
    from ..settings import Settings


SQLITE, POSTGRES, MEMORY = "sqlite", "postgres", "memory"


@dataclass(frozen=True)
class Backend:
    """What the harness knows of one backend."""

    name: str
    module: str
    stands_for: str
    """One line for the report: the design it represents."""
    expected: str
    """The verdict the comparison's gate expects (``analysis.gates``: consistent, lost-writes
    or anomalies): a baseline known to misbehave must be caught doing so."""
    latency: str
    """``real`` (paid on disk and threads), ``modelled`` (slept by a model) or ``partly
    modelled`` (real, plus a modelled round trip slept inside each update)."""
    colour: str
    """Its colour in every figure, so a store looks the same throughout a report."""
    database: str = SQLITE
    """Where it keeps sessions: ``sqlite`` (the ``--db`` file), ``postgres`` (the ``--dsn``
    database, shared by several server processes) or ``memory`` (one process only)."""
    expected_with_kills: str | None = None
    """The gate under a nemesis that kills the server (``--nemesis kill``), when it differs
    from :attr:`expected`: a store that keeps acknowledged writes only in memory must be
    caught losing them across a kill (``lost-across-crash``)."""

    @property
    def one_process(self) -> bool:
        """Whether its sessions live in one process's memory: then several server processes
        (``--workers``, the comparison's ``--servers``) would not see one another's writes."""
        return self.database == MEMORY


BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (
    Backend(
        "sqlite", "server.stores.sqlite",
        "the recommended design: each write is one atomic SQLite statement, and the answer is "
        "written only if none is set yet",
        expected="consistent", latency="real", colour="#2b8a3e",
    ),
    Backend(
        "rmw", "server.stores.rmw",
        "rondevu's D1 code (Nov 2025): strongly consistent storage, but each update reads the "
        "session, changes it in memory and writes the column back in a separate statement, with "
        "no check on the answer; the D1 round trip between the read and the write is modelled "
        "(slept), the storage is real local SQLite",
        expected="lost-writes", latency="partly modelled", colour="#e67700",
    ),
    Backend(
        "kv", "server.stores.kv",
        "rondevu's earlier Workers KV code, emulated: the whole session is one JSON value, read "
        "from a possibly stale edge cache, changed and put back whole (last write wins, no "
        "compare-and-set)",
        expected="lost-writes", latency="modelled", colour="#c92a2a", database=MEMORY,
        expected_with_kills="lost-across-crash",
    ),
    Backend(
        "postgres", "server.stores.postgres",
        "the recommended design on PostgreSQL, for several server processes on one database: "
        "each write is one atomic statement, the answer is written only if none is set yet, and "
        "a candidate takes its position under its session's row lock",
        expected="consistent", latency="real", colour="#1864ab", database=POSTGRES,
    ),
    Backend(
        "rmw-postgres", "server.stores.rmw_postgres",
        "rondevu's D1 read-modify-write code on PostgreSQL: each update reads the session, "
        "changes it in memory and writes the list back in a separate transaction, with no check "
        "on the answer, so servers racing on one session overwrite each other",
        expected="lost-writes", latency="real", colour="#862e9c", database=POSTGRES,
    ),
)}


def needs_postgres(backends: Iterable[str]) -> bool:
    """Whether any of these backends keeps its sessions in PostgreSQL."""
    return any(BACKENDS[name].database == POSTGRES for name in backends)


def limits_of(settings: Settings) -> StoreLimits:
    return StoreLimits(session_ttl_ms=settings.session_ttl, max_candidates=settings.max_candidates)


async def open_store(settings: Settings, clock: Clock) -> Store:
    """Open the backend named by ``settings.backend`` (imported only when chosen)."""
    module = importlib.import_module(BACKENDS[settings.backend].module)
    return await module.open_store(settings, clock)
