"""Durability and migrations across a crash: SIGKILL the server, start it again on the file.

SIGKILL leaves the operating system's page cache alone, so the crash test alone would pass even
if the store never called fsync (``PRAGMA synchronous = OFF``). What makes an acknowledged write
survive a power cut is the writer connection's ``synchronous`` setting, so the test beside it
reads that back from a running store for each value ``--synchronous`` allows.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import create_app
from server.appkeys import STORE
from server.settings import load_settings
from server.stores.sqlite import SqliteStore
from support import ORIGIN, ServerFactory
from support.race import answer_sdp, race_candidate

HEADERS = {"Origin": ORIGIN}


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, object]
                ) -> tuple[int, dict[str, object]]:
    async with http.post(url, json=body, headers=HEADERS) as response:
        return response.status, await response.json()


async def _write_sessions(url: str) -> dict[str, tuple[str, list[str]]]:
    """20 sessions, each answered and with 5 offerer candidates, every write acknowledged."""
    acknowledged: dict[str, tuple[str, list[str]]] = {}
    async with aiohttp.ClientSession() as http:
        for i in range(20):
            status, body = await _post(http, f"{url}/room/offer",
                                       {"peerId": "p", "offer": answer_sdp(i, 0)})
            assert status == 200
            code = str(body["code"])
            status, _ = await _post(http, f"{url}/answer",
                                    {"code": code, "side": "answerer", "answer": answer_sdp(i, 1)})
            assert status == 200
            values = [race_candidate(i, "offerer", n) for n in range(5)]
            for value in values:
                status, _ = await _post(http, f"{url}/answer",
                                        {"code": code, "side": "offerer", "candidate": value})
                assert status == 200
            acknowledged[code] = (answer_sdp(i, 1), values)
    return acknowledged


async def _assert_stored(url: str, acknowledged: dict[str, tuple[str, list[str]]]) -> None:
    async with aiohttp.ClientSession() as http:
        for code, (answer, values) in acknowledged.items():
            status, body = await _post(http, f"{url}/poll", {"code": code, "side": "offerer"})
            assert status == 200 and body["answer"] == answer
            status, body = await _post(http, f"{url}/poll", {"code": code, "side": "answerer"})
            assert status == 200 and body["offerCandidates"] == values


def _migrations_recorded(backend: str, db: Path, request: pytest.FixtureRequest) -> list[int]:
    if backend == "sqlite":
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    cluster = request.getfixturevalue("postgres_cluster")
    database = request.getfixturevalue("postgres_dsn").rsplit("/", 1)[1]
    recorded = cluster.psql("SELECT version FROM schema_migrations", database)
    return [int(line) for line in recorded.split()]


@pytest.mark.parametrize("backend, workers", [("sqlite", 1), ("postgres", 1), ("postgres", 3)])
async def test_acknowledged_writes_survive_sigkill_and_migrations_run_once(
    tmp_path: Path, start_server: ServerFactory, request: pytest.FixtureRequest, backend: str,
    workers: int,
) -> None:
    """With ``--workers 3`` the three processes migrate at once on startup: one applies the
    migration, the others wait for its lock and find it applied."""
    server = start_server(backend, workers=workers)
    try:
        assert server.output.count("applied migration 0001_initial") == 1, server.output
        acknowledged = await _write_sessions(server.url)
    finally:
        server.kill()
    again = start_server(backend, workers=workers)
    assert "applied migration" not in again.output
    await _assert_stored(again.url, acknowledged)
    assert _migrations_recorded(backend, tmp_path / "signaling.db", request) == [1]


@pytest.mark.parametrize("flags, level", [((), 2), (("--synchronous", "normal"), 1)],
                         ids=["default-full", "normal"])
async def test_the_writer_runs_with_the_configured_synchronous(
        aiohttp_client: Any, tmp_path: Path, flags: tuple[str, ...], level: int) -> None:
    """``PRAGMA synchronous`` is per connection and SQLite accepts any value silently, so it is
    read back from the writer of the store the app opened from its settings (FULL = 2,
    NORMAL = 1; OFF, 0, would lose acknowledged writes in a power cut)."""
    settings = load_settings(["--db", str(tmp_path / "durable.db"), *flags], {})
    client = await aiohttp_client(create_app(settings))
    store = client.app[STORE]
    assert isinstance(store, SqliteStore)
    assert await store._writer.execute_fetchall("PRAGMA synchronous") == [(level,)]
    assert await store._writer.execute_fetchall("PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_database_from_a_newer_schema_is_refused(tmp_path: Path, start_server: ServerFactory,
                                                 request: pytest.FixtureRequest,
                                                 backend: str) -> None:
    import subprocess
    import sys

    start_server(backend).stop()
    future = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'f', now())"
    if backend == "sqlite":
        with sqlite3.connect(tmp_path / "signaling.db") as conn:
            conn.execute(future.replace("now()", "'now'"))
        env = None
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        request.getfixturevalue("postgres_cluster").psql(future, dsn.rsplit("/", 1)[1])
        env = {**os.environ, "SIGNALING_DSN": dsn}
    run = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--backend", backend,
                          "--db", str(tmp_path / "signaling.db")],
                         capture_output=True, text=True, timeout=30, env=env)
    assert run.returncode == 2
    assert "newer schema (version 9999" in run.stderr
    assert "Traceback" not in run.stderr
