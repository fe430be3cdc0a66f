"""Durability and migrations across a crash: SIGKILL the server, start it again on the file.

SIGKILL leaves the operating system's page cache alone, so the crash test alone would pass even
if the store never called fsync (``PRAGMA synchronous = OFF``). What makes an acknowledged write
survive a power cut is the writer connection's ``synchronous`` setting, so the test beside it
reads that back from a running store for each value ``--synchronous`` allows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import create_app
from server.appkeys import STORE
from server.process import ServerProcess
from server.settings import load_settings
from server.stores.sqlite import SqliteStore
from support import ORIGIN
from support.race import answer_sdp, race_candidate

HEADERS = {"Origin": ORIGIN}


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, object]
                ) -> tuple[int, dict[str, object]]:
    async with http.post(url, json=body, headers=HEADERS) as response:
        return response.status, await response.json()


async def test_acknowledged_writes_survive_sigkill_and_migrations_run_once(
    sqlite_db: Path, sqlite_server: ServerProcess,
) -> None:
    db, server = sqlite_db, sqlite_server
    acknowledged: dict[str, tuple[str, list[str]]] = {}
    try:
        assert "applied migration 0001_initial" in server.output
        async with aiohttp.ClientSession() as http:
            for i in range(20):
                status, body = await _post(http, f"{server.url}/room/offer",
                                           {"peerId": "p", "offer": answer_sdp(i, 0)})
                assert status == 200
                code = str(body["code"])
                status, _ = await _post(http, f"{server.url}/answer",
                                        {"code": code, "side": "answerer",
                                         "answer": answer_sdp(i, 1)})
                assert status == 200
                values = [race_candidate(i, "offerer", n) for n in range(5)]
                for value in values:
                    status, _ = await _post(http, f"{server.url}/answer",
                                            {"code": code, "side": "offerer",
                                             "candidate": value})
                    assert status == 200
                acknowledged[code] = (answer_sdp(i, 1), values)
    finally:
        server.kill()

    with ServerProcess(db) as again:
        assert "applied migration" not in again.output
        async with aiohttp.ClientSession() as http:
            for code, (answer, values) in acknowledged.items():
                status, body = await _post(http, f"{again.url}/poll",
                                           {"code": code, "side": "offerer"})
                assert status == 200 and body["answer"] == answer
                status, body = await _post(http, f"{again.url}/poll",
                                           {"code": code, "side": "answerer"})
                assert status == 200 and body["offerCandidates"] == values
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]


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


def test_database_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "newer.db"
    with ServerProcess(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 'now')")
    run = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--db", str(db)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "newer schema (version 9999" in run.stderr
    assert "Traceback" not in run.stderr
