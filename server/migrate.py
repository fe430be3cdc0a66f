"""Apply ``migrations/NNNN_name.sql`` in order, each once, each in its own transaction.

SQLite's migrations are the files at the top of ``migrations/``; PostgreSQL's are in
``migrations/postgres/``, applied by :mod:`server.migrate_postgres` with the same rules, which
live here: how files are found and named, and when a database is refused.

The applied versions are recorded in ``schema_migrations`` inside the same transaction as the
schema change, so a crash mid-migration leaves either both or neither, and a restart applies
nothing twice. A database that records a version this code does not know was written by a newer
release: refusing it is safer than running old code over a schema it cannot read.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database's schema cannot be brought to this release's version."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(folder: str = "") -> list[Migration]:
    """The SQL files shipped in the ``migrations`` package (or its ``folder``), by version.

    Read through importlib.resources so they are found in a checkout and in an installed wheel.
    """
    found = []
    root = resources.files("migrations")
    for entry in (root / folder if folder else root).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def _applied_versions(conn: sqlite3.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Bring the database up to date; returns the versions applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``): the transactions here are
    explicit, and ``BEGIN IMMEDIATE`` makes two servers starting on one file take turns. It
    blocks while it waits for the other's migration: the store runs it on its writer's thread.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    migrations = available_migrations()
    refuse_newer(_applied_versions(conn), migrations, "another --db file")
    applied_now = []
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if migration.version in _applied_versions(conn):
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)"
                " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                (migration.version, migration.name),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied_now.append(migration.version)
    return applied_now


def refuse_newer(applied: set[int], migrations: list[Migration], elsewhere: str) -> None:
    """Raise :class:`MigrationError` if the database records a version this release lacks."""
    known = {m.version for m in migrations}
    newer = sorted(applied - known)
    if newer:
        raise MigrationError(
            f"the database was written by a newer schema (version {newer[-1]}; this release "
            f"knows up to {max(known, default=0)}): use a newer server or {elsewhere}"
        )


def _statements(script: str) -> list[str]:
    """Split a migration into statements, so all of them run inside our own transaction.

    ``executescript`` would commit first; ``sqlite3.complete_statement`` finds where each
    statement ends without being fooled by semicolons in comments or strings.
    """
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not _only_comments(current):
        raise MigrationError(f"unterminated SQL statement at the end of a migration: {current!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
