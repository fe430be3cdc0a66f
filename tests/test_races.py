"""Each baseline's documented anomaly, replayed deterministically; the sqlite store loses nothing.

The ``kv`` and ``rmw`` races run on a :class:`FakeClock`: every modelled latency (and rmw's gap
between read and write) parks the coroutine on virtual time, so which read happens before which
write is fixed by the scenario, not by the scheduler. Each test asserts the specific anomaly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.settings import KvSettings, Settings
from server.stores import kv, rmw, sqlite
from server.stores.base import (
    AnswerConflict,
    Caller,
    SessionNotFound,
    Side,
    StoreUnavailable,
)
from server.stores.kv import KvStore
from server.stores.rmw import RmwStore
from server.stores.sqlite import SqliteStore
from support import ORIGIN
from support.fake_clock import FakeClock

CODE = "race-code"


def caller_at(store: KvStore, edge: int, role: str) -> Caller:
    """A client whose requests the KV model routes to ``edge``."""
    name = next(f"{role}-{i}" for i in range(1000) if store.model.home_edge(f"{role}-{i}") == edge)
    return Caller(origin=ORIGIN, client=name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def kv_settings(**overrides: object) -> Settings:
    """The documented defaults (docs/baselines.md) at time scale 1, without jitter for readability."""
    return Settings(kv=KvSettings(**{"jitter": 0.0, **overrides}))  # type: ignore[arg-type]


async def open_kv(clock: FakeClock, **overrides: object) -> KvStore:
    return await kv.open_store(kv_settings(**overrides), clock)


async def create(store: object, clock: FakeClock, caller: Caller) -> None:
    await clock.run(store.create(caller, code=CODE, topic="room", peer_id="p", offer="o"))  # type: ignore[attr-defined]


# --- kv ------------------------------------------------------------------------------------


async def race_two_appends(store: KvStore, clock: FakeClock, caller: Caller) -> list[object]:
    """Two appends of one side started together; each result is None or the error raised."""
    return await clock.run(asyncio.gather(
        store.append_candidate(caller, CODE, Side.OFFERER, "cand-1"),
        store.append_candidate(caller, CODE, Side.OFFERER, "cand-2"),
        return_exceptions=True,
    ))


async def test_kv_offerer_append_from_a_stale_edge_erases_an_acknowledged_answer(
    clock: FakeClock,
) -> None:
    store = await open_kv(clock)
    offerer, answerer = caller_at(store, 0, "offerer"), caller_at(store, 1, "answerer")
    await create(store, clock, offerer)  # edge 0 now holds the new session, no answer
    await clock.advance(2.0)
    await clock.run(store.set_answer(answerer, CODE, "the-answer"))
    assert (await clock.run(store.get(answerer, CODE))).answer == "the-answer"  # acknowledged
    await clock.advance(2.0)
    # The offerer's ICE update reads edge 0's copy (still fresh, no answer) and puts it back.
    await clock.run(store.append_candidate(offerer, CODE, Side.OFFERER, "cand-1"))
    await clock.advance(61.0)  # every edge's copy has expired: reads now show the central store
    for caller in (offerer, answerer):
        final = await clock.run(store.get(caller, CODE))
        assert final.answer is None
        assert final.offer_candidates == ("cand-1",)


async def trickle_and_answer(store: KvStore, clock: FakeClock) -> dict[str, object]:
    """One session as a trickling browser pair writes it, on the model's clock: the offerer's
    host and server-reflexive candidates within a few hundred ms of its offer, the answer from
    another edge at 0.6 s, then the offerer's relay candidate once its TURN allocation is done, at
    1.2 s. Each write's outcome (None, or the error raised) by name."""
    offerer, answerer = caller_at(store, 0, "offerer"), caller_at(store, 1, "answerer")
    start = clock.now()
    await create(store, clock, offerer)
    outcomes: dict[str, object] = {}

    async def at(seconds: float, name: str, write: object) -> None:
        await clock.advance(start + seconds - clock.now())
        try:
            await clock.run(write)  # type: ignore[arg-type]
            outcomes[name] = None
        except StoreUnavailable as error:
            outcomes[name] = error

    await at(0.10, "host-1", store.append_candidate(offerer, CODE, Side.OFFERER, "host-1"))
    await at(0.20, "host-2", store.append_candidate(offerer, CODE, Side.OFFERER, "host-2"))
    await at(0.35, "srflx", store.append_candidate(offerer, CODE, Side.OFFERER, "srflx"))
    await at(0.60, "answer", store.set_answer(answerer, CODE, "the-answer"))
    await at(1.20, "relay", store.append_candidate(offerer, CODE, Side.OFFERER, "relay"))
    await clock.advance(61.0)  # every edge's copy has expired: reads show the central store
    return outcomes


async def test_kv_default_limit_lets_a_stale_relay_candidate_erase_the_acknowledged_answer(
    clock: FakeClock,
) -> None:
    """The seed, under the documented defaults: six writes to the session's key within 1.2 s fit
    the measured burst, so KV acknowledges all of them, and the offerer's late relay candidate,
    merged into its edge's copy from before the answer, puts the session back without it."""
    store = await open_kv(clock)
    outcomes = await trickle_and_answer(store, clock)
    assert outcomes == dict.fromkeys(("host-1", "host-2", "srflx", "answer", "relay"))
    final = await clock.run(store.get(caller_at(store, 2, "reader"), CODE))
    assert final.answer is None  # acknowledged at 0.6 s, erased at 1.2 s
    assert final.offer_candidates == ("host-1", "host-2", "srflx", "relay")  # the culprit's own
    # write is in the final state: that is how the checker names it


async def test_kv_strict_limit_refuses_the_seeds_writes_instead(clock: FakeClock) -> None:
    """The same session under ``strict``: every write within a second of the offer is refused
    with a 429 (a 500 for rondevu's clients), the answer among them, so nothing is erased; the
    relay candidate, 1.2 s after the offer, is accepted."""
    store = await open_kv(clock, write_limit="strict")
    outcomes = await trickle_and_answer(store, clock)
    refused = {name for name, outcome in outcomes.items() if outcome is not None}
    assert refused == {"host-1", "host-2", "srflx", "answer"}
    assert all(str(outcomes[name]) == "KV PUT failed: 429 Too Many Requests" for name in refused)
    final = await clock.run(store.get(caller_at(store, 2, "reader"), CODE))
    assert (final.answer, final.offer_candidates) == (None, ("relay",))


async def test_kv_two_racing_appends_on_one_side_lose_one(clock: FakeClock) -> None:
    # Both appends read the session before either write lands; the default limit's burst
    # acknowledges both, and the later put, built from the same copy, erases the earlier
    # candidate. (Under strict the second is refused: the next test.)
    store = await open_kv(clock)
    offerer = caller_at(store, 0, "offerer")
    await create(store, clock, offerer)
    await clock.advance(2.0)
    results = await race_two_appends(store, clock, offerer)
    assert results == [None, None]  # both acknowledged
    await clock.advance(61.0)
    assert (await clock.run(store.get(offerer, CODE))).offer_candidates in (("cand-1",), ("cand-2",))


async def test_kv_strict_refuses_a_second_write_to_a_key_inside_the_interval(
    clock: FakeClock,
) -> None:
    store = await open_kv(clock, write_limit="strict")
    offerer = caller_at(store, 0, "offerer")
    await create(store, clock, offerer)
    await clock.advance(2.0)
    results = await race_two_appends(store, clock, offerer)
    assert results[0] is None
    assert isinstance(results[1], StoreUnavailable)
    assert str(results[1]) == "KV PUT failed: 429 Too Many Requests"
    await clock.advance(1.0)  # write_interval has passed: the key takes a write again
    await clock.run(store.append_candidate(offerer, CODE, Side.OFFERER, "cand-3"))
    assert (await clock.run(store.get(offerer, CODE))).offer_candidates == ("cand-1", "cand-3")


async def test_kv_a_poll_at_another_edge_stays_stale_until_its_ttl(clock: FakeClock) -> None:
    store = await open_kv(clock)
    offerer, answerer = caller_at(store, 0, "offerer"), caller_at(store, 1, "answerer")
    await create(store, clock, offerer)
    assert (await clock.run(store.get(answerer, CODE))).offer_candidates == ()
    cached_at = clock.now()  # edge 1 fetched the session (cold read) just now
    await clock.advance(2.0)
    await clock.run(store.append_candidate(offerer, CODE, Side.OFFERER, "cand-1"))
    assert (await clock.run(store.get(offerer, CODE))).offer_candidates == ("cand-1",)
    await clock.advance(cached_at + 59.9 - clock.now())
    assert (await clock.run(store.get(answerer, CODE))).offer_candidates == ()  # stale
    await clock.advance(0.2)
    assert (await clock.run(store.get(answerer, CODE))).offer_candidates == ("cand-1",)


async def test_kv_a_lookup_before_creation_stays_404_for_the_ttl(clock: FakeClock) -> None:
    store = await open_kv(clock)
    offerer, answerer = caller_at(store, 0, "offerer"), caller_at(store, 1, "answerer")
    with pytest.raises(SessionNotFound):
        await clock.run(store.get(answerer, CODE))  # edge 1 caches "not found"
    cached_at = clock.now()
    await create(store, clock, offerer)
    assert (await clock.run(store.get(offerer, CODE))).code == CODE
    await clock.advance(cached_at + 59.9 - clock.now())
    with pytest.raises(SessionNotFound):
        await clock.run(store.get(answerer, CODE))
    await clock.advance(0.2)
    assert (await clock.run(store.get(answerer, CODE))).code == CODE


async def test_kv_topic_index_loses_an_offer_created_from_a_stale_edge(clock: FakeClock) -> None:
    store = await open_kv(clock)
    first, second = caller_at(store, 0, "offerer"), caller_at(store, 1, "offerer")
    listed = await clock.run(store.list_by_topic(second, "room", limit=10))
    assert listed.sessions == []  # edge 1 caches no index
    await clock.run(store.create(first, code="a", topic="room", peer_id="p", offer="o"))
    await clock.advance(2.0)
    await clock.run(store.create(second, code="b", topic="room", peer_id="p", offer="o"))
    await clock.advance(61.0)
    listed = await clock.run(store.list_by_topic(first, "room", limit=10))
    assert [s.code for s in listed.sessions] == ["b"]


# --- rmw and sqlite --------------------------------------------------------------------------


@pytest.fixture
async def rmw_store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[RmwStore]:
    # A round trip of a whole model second holds each update between its read and its write
    # until the test moves time.
    store = await rmw.open_store(Settings(db=tmp_path / "rmw.db", rmw_gap_ms=1000.0), clock)
    yield store
    await store.close()


async def test_rmw_waits_one_d1_round_trip_scaled_like_the_kv_model(tmp_path: Path,
                                                                     clock: FakeClock) -> None:
    """The documented default (docs/baselines.md): 200 model ms, a tenth of that at 0.1."""
    assert Settings().rmw_gap_ms == 200.0
    store = await rmw.open_store(Settings(db=tmp_path / "gap.db", time_scale=0.1), clock)
    try:
        assert store.gap == pytest.approx(0.02)
        await store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
        started = clock.now()
        racers = [asyncio.ensure_future(store.append_candidate(CALLER, CODE, Side.OFFERER, c))
                  for c in ("cand-1", "cand-2")]
        await clock.wait_for_sleepers(2)  # both read the empty list, then wait for "D1"
        await clock.advance(0.02)
        await asyncio.gather(*racers)
        assert clock.now() - started == pytest.approx(0.02)
        assert len((await store.get(CALLER, CODE)).offer_candidates) == 1  # one pair, one lost
    finally:
        await store.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteStore]:
    store = await sqlite.open_store(Settings(db=tmp_path / "sqlite.db"), clock)
    yield store
    await store.close()


CALLER = Caller(origin=ORIGIN, client="client")


async def test_rmw_two_racing_appends_lose_one(rmw_store: RmwStore, clock: FakeClock) -> None:
    await rmw_store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
    racers = [asyncio.ensure_future(rmw_store.append_candidate(CALLER, CODE, Side.OFFERER, c))
              for c in ("cand-1", "cand-2")]
    await clock.wait_for_sleepers(2)  # both have read the empty list
    await clock.advance(1.0)
    assert await asyncio.gather(*racers) == [None, None]  # both acknowledged
    final = await rmw_store.get(CALLER, CODE)
    assert final.offer_candidates in (("cand-1",), ("cand-2",))


async def test_rmw_a_second_answer_replaces_the_first(rmw_store: RmwStore, clock: FakeClock
                                                      ) -> None:
    rmw_store.gap = 0.0  # one after the other: no race needed to lose the first answer
    await rmw_store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
    for answer in ("answer-1", "answer-2"):
        await rmw_store.set_answer(CALLER, CODE, answer)  # both acknowledged
    assert (await rmw_store.get(CALLER, CODE)).answer == "answer-2"


async def test_rmw_writes_back_exactly_the_list_it_read(rmw_store: RmwStore, clock: FakeClock
                                                       ) -> None:
    """A stale, shorter list written after a longer one replaces it, as rondevu's column did."""
    await rmw_store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
    slow = asyncio.ensure_future(rmw_store.append_candidate(CALLER, CODE, Side.OFFERER, "late"))
    await clock.wait_for_sleepers(1)  # it has read the empty list
    rmw_store.gap = 0.0
    for c in ("cand-1", "cand-2"):
        await rmw_store.append_candidate(CALLER, CODE, Side.OFFERER, c)
    await clock.advance(1.0)
    await slow
    assert (await rmw_store.get(CALLER, CODE)).offer_candidates == ("late",)


async def test_sqlite_racing_appends_lose_nothing(sqlite_store: SqliteStore) -> None:
    await sqlite_store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
    values = [f"cand-{i}" for i in range(20)]
    await asyncio.gather(*(sqlite_store.append_candidate(CALLER, CODE, Side.OFFERER, v)
                           for v in values))
    assert sorted((await sqlite_store.get(CALLER, CODE)).offer_candidates) == sorted(values)


async def test_sqlite_racing_answers_have_one_winner(sqlite_store: SqliteStore) -> None:
    await sqlite_store.create(CALLER, code=CODE, topic="room", peer_id="p", offer="o")
    answers = [f"answer-{i}" for i in range(5)]
    results = await asyncio.gather(*(sqlite_store.set_answer(CALLER, CODE, a) for a in answers),
                                   return_exceptions=True)
    winners = [a for a, r in zip(answers, results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, AnswerConflict) for r in results if r is not None)
    assert (await sqlite_store.get(CALLER, CODE)).answer == winners[0]


def test_the_kv_settings_of_these_races_are_the_documented_defaults() -> None:
    """Each race above happens with the values docs/baselines.md cites (only jitter is off)."""
    kv = kv_settings().kv
    documented = {"cache_ttl": 60.0, "write_interval": 1.0, "write_limit": "burst",
                  "write_burst": 10, "edges": 4, "reroute": 0.0, "hot_read_ms": 2.0,
                  "cold_read_ms": 40.0, "write_ms": 50.0}
    assert {name: getattr(kv, name) for name in documented} == documented
    assert kv.jitter == 0.0
