"""Group commit in the sqlite store: writes that arrive together share one transaction, a
refused or failing write fails alone, and a crash loses nothing that was acknowledged.

Writes queued in the same turn of the event loop (``asyncio.gather``) form one group; the
writer's ``groups`` counter shows that they did, so each test below is about one shared
transaction, on a real database file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from server.settings import Settings
from server.stores import sqlite
from server.stores.base import (
    AnswerConflict,
    Caller,
    CandidateLimit,
    CodeInUse,
    SessionNotFound,
    Side,
    StorageLost,
    SystemClock,
)
from server.stores.dbfile import DatabaseFile
from server.stores.groupcommit import GroupWriter
from server.stores.sqlite import SqliteStore
from support import ORIGIN, ServerFactory

CALLER = Caller(origin=ORIGIN, client="client")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await sqlite.open_store(Settings(db=tmp_path / "group.db", max_candidates=2),
                                     SystemClock())
    yield opened
    await opened.close()


async def _create(store: SqliteStore, code: str) -> None:
    await store.create(CALLER, code=code, topic="room", peer_id="p", offer="o")


async def test_refused_writes_fail_alone_and_the_rest_of_their_group_commits(
        store: SqliteStore) -> None:
    for code in ("full", "answered", "open"):
        await _create(store, code)
    for n in (1, 2):
        await store.append_candidate(CALLER, "full", Side.OFFERER, f"full-{n}")
    await store.set_answer(CALLER, "answered", "first")
    groups = store._writer.groups
    outcomes = await asyncio.gather(
        store.append_candidate(CALLER, "open", Side.OFFERER, "a"),
        store.append_candidate(CALLER, "nobody", Side.OFFERER, "x"),  # unknown code
        store.append_candidate(CALLER, "full", Side.OFFERER, "full-3"),  # bound reached
        store.set_answer(CALLER, "answered", "second"),  # a second, different answer
        store.create(CALLER, code="open", topic="room", peer_id="p", offer="o"),  # code in use
        store.set_answer(CALLER, "open", "the answer"),
        store.append_candidate(CALLER, "open", Side.OFFERER, "b"),
        return_exceptions=True,
    )
    assert store._writer.groups == groups + 1  # one transaction held all seven
    assert [type(outcome) for outcome in outcomes] == [
        type(None), SessionNotFound, CandidateLimit, AnswerConflict, CodeInUse, type(None),
        type(None)]
    opened = await store.get(CALLER, "open")
    assert (opened.offer_candidates, opened.answer) == (("a", "b"), "the answer")
    assert (await store.get(CALLER, "full")).offer_candidates == ("full-1", "full-2")
    assert (await store.get(CALLER, "answered")).answer == "first"


async def _table_writer(tmp_path: Path) -> tuple[GroupWriter, Path]:
    """A writer on a file with one table, whose trigger rolls back the whole transaction when
    13 is inserted (as a full disk or an I/O error would)."""
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        conn.execute("CREATE TRIGGER no_13 BEFORE INSERT ON t WHEN NEW.x = 13 "
                     "BEGIN SELECT RAISE(ROLLBACK, 'thirteen'); END")
    writer = await GroupWriter.open(lambda: sqlite.connect(path, query_only=False),
                                    DatabaseFile(path).check)
    return writer, path


def _rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")]


async def test_a_failing_statement_undoes_its_whole_write_and_no_other(tmp_path: Path) -> None:
    writer, path = await _table_writer(tmp_path)
    try:
        outcomes = await asyncio.gather(
            writer.write(("INSERT INTO t VALUES (1)", ())),
            writer.write(("INSERT INTO t VALUES (2)", ()), ("INSERT INTO t VALUES (1)", ())),
            writer.write(("INSERT INTO t VALUES (3) RETURNING x", ())),
            return_exceptions=True,
        )
        assert writer.groups == 1
        assert outcomes[0] == [] and outcomes[2] == [(3,)]
        assert isinstance(outcomes[1], sqlite3.IntegrityError)  # and its 2 is undone with it
        assert _rows(path) == [1, 3]
    finally:
        await writer.close()


async def test_writes_rolled_back_with_their_group_are_committed_in_the_next(tmp_path: Path
                                                                             ) -> None:
    writer, path = await _table_writer(tmp_path)
    try:
        outcomes = await asyncio.gather(
            *(writer.write((f"INSERT INTO t VALUES ({x})", ())) for x in (1, 13, 2)),
            return_exceptions=True,
        )
        assert outcomes[0] == outcomes[2] == []
        assert isinstance(outcomes[1], sqlite3.IntegrityError) and "thirteen" in str(outcomes[1])
        assert writer.groups == 2  # 1 was undone with 13's group, then committed with 2
        assert _rows(path) == [1, 2]
    finally:
        await writer.close()


async def test_a_lost_database_file_fails_the_whole_group(tmp_path: Path) -> None:
    writer, path = await _table_writer(tmp_path)
    try:
        path.unlink()
        outcomes = await asyncio.gather(
            *(writer.write((f"INSERT INTO t VALUES ({x})", ())) for x in (1, 2)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, StorageLost) for outcome in outcomes)
    finally:
        await writer.close()


async def test_sigkill_amid_group_commits_loses_no_acknowledged_write(
        start_server: ServerFactory) -> None:
    """50 clients append to 20 sessions until the server is killed mid-flight; after a restart
    on the same file, every append that was answered 200 is there, in no other order than
    the one its client saw."""
    server = start_server("sqlite")
    headers = {"Origin": ORIGIN}
    acknowledged: dict[str, list[str]] = {}
    async with aiohttp.ClientSession() as http:
        for n in range(20):
            async with http.post(f"{server.url}/room/offer", headers=headers,
                                 json={"peerId": "p", "offer": "o", "code": f"s{n}"}) as reply:
                assert reply.status == 200
                acknowledged[f"s{n}"] = []

        async def append(client: int) -> None:
            for n in range(200):
                code, value = f"s{(client + n) % 20}", f"{client}:{n}"
                try:
                    async with http.post(f"{server.url}/answer", headers=headers, json={
                            "code": code, "side": "offerer", "candidate": value}) as reply:
                        if reply.status != 200:
                            return
                except aiohttp.ClientError:
                    return  # the server is gone: this append's outcome is unknown
                acknowledged[code].append(value)

        clients = [asyncio.create_task(append(client)) for client in range(50)]
        deadline = asyncio.get_running_loop().time() + 30
        while sum(map(len, acknowledged.values())) < 1000:
            assert asyncio.get_running_loop().time() < deadline, "the appends did not run"
            await asyncio.sleep(0.01)
        server.kill()
        await asyncio.gather(*clients)
    again = start_server("sqlite")
    async with aiohttp.ClientSession() as http:
        for code, values in acknowledged.items():
            async with http.post(f"{again.url}/poll", headers=headers,
                                 json={"code": code, "side": "answerer"}) as reply:
                stored = (await reply.json())["offerCandidates"]
            assert set(values) <= set(stored), f"{code}: acknowledged appends missing"
            per_client: dict[str, list[int]] = {}
            for value in stored:
                client, n = value.split(":")
                per_client.setdefault(client, []).append(int(n))
            for order in per_client.values():  # each client's appends in its own order
                assert order == sorted(order)
