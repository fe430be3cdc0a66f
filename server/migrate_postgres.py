"""Apply ``migrations/postgres/NNNN_name.sql`` in order, each once, each in its own transaction.

The rules are SQLite's (:mod:`server.migrate`): each file's schema change and its row in
``schema_migrations`` commit together, and a database recording a version this release does not
know is refused. What PostgreSQL adds is several server processes starting at once on one
database (``--workers``, or servers on several machines): ``CREATE TABLE IF NOT EXISTS`` is not
safe against a concurrent creator there, and two processes could both find a migration missing.
So the whole migration runs under a session-level advisory lock: the first process migrates, the
others wait for it, then find everything applied. The lock goes with the connection, so a process
that dies mid-migration releases it.
"""

from __future__ import annotations

import logging

import asyncpg

from .migrate import available_migrations, refuse_newer

log = logging.getLogger(__name__)

FOLDER = "postgres"
LOCK_KEY = 0x5349474E414C  # "SIGNAL": this schema's advisory lock, the same in every process


async def _applied_versions(conn: asyncpg.Connection) -> set[int]:
    return {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Bring the database up to date; returns the versions applied now (by this process)."""
    migrations = available_migrations(FOLDER)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        refuse_newer(await _applied_versions(conn), migrations, "another database (--dsn)")
        applied_now = []
        for migration in migrations:
            async with conn.transaction():
                if migration.version in await _applied_versions(conn):
                    continue
                await conn.execute(migration.sql)  # several statements: the simple protocol
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied_now.append(migration.version)
        return applied_now
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
