"""The KV model's mechanisms one at a time, on a fake clock: caching, routing, limits, latency."""

from __future__ import annotations

import pytest

from server.settings import KvSettings
from server.stores.base import StoreUnavailable
from server.stores.kv_model import TOO_MANY_WRITES, KvModel
from support.fake_clock import FakeClock

KEY = "session:abc"


def model(clock: FakeClock, time_scale: float = 1.0, **overrides: object) -> KvModel:
    settings = KvSettings(**{"jitter": 0.0, **overrides})  # type: ignore[arg-type]
    return KvModel(settings, time_scale, clock)


async def test_a_write_is_seen_at_its_edge_at_once_and_elsewhere_after_the_ttl() -> None:
    clock = FakeClock()
    kv = model(clock)
    writer, reader = kv.edge(0), kv.edge(1)
    await clock.run(writer.put(KEY, "v1"))
    assert await clock.run(reader.get(KEY)) == "v1"
    fetched = clock.now()
    await clock.advance(2.0)
    await clock.run(writer.put(KEY, "v2"))
    assert await clock.run(writer.get(KEY)) == "v2"
    await clock.advance(fetched + 59.9 - clock.now())
    assert await clock.run(reader.get(KEY)) == "v1"  # stale, and served as if fresh
    await clock.advance(0.2)
    assert await clock.run(reader.get(KEY)) == "v2"


async def test_not_found_is_cached_too() -> None:
    clock = FakeClock()
    kv = model(clock)
    assert await clock.run(kv.edge(1).get(KEY)) is None
    await clock.run(kv.edge(0).put(KEY, "v1"))
    await clock.advance(59.0)
    assert await clock.run(kv.edge(1).get(KEY)) is None
    await clock.advance(1.1)
    assert await clock.run(kv.edge(1).get(KEY)) == "v1"


async def test_the_last_write_to_arrive_wins() -> None:
    clock = FakeClock()
    kv = model(clock, write_limit="off")
    await clock.run(kv.edge(0).put(KEY, "first"))
    await clock.run(kv.edge(1).put(KEY, "second"))
    await clock.advance(61.0)
    assert {await clock.run(kv.edge(i).get(KEY)) for i in range(4)} == {"second"}


async def test_strict_refuses_a_second_write_within_the_interval_with_kvs_error() -> None:
    clock = FakeClock()
    kv = model(clock, write_limit="strict")
    await clock.run(kv.edge(0).put(KEY, "v1"))
    await clock.advance(0.9)
    with pytest.raises(StoreUnavailable, match=TOO_MANY_WRITES):
        await clock.run(kv.edge(1).put(KEY, "v2"))
    await clock.run(kv.edge(1).put("session:other", "x"))  # the limit is per key
    await clock.advance(0.2)
    await clock.run(kv.edge(1).put(KEY, "v3"))
    assert await clock.run(kv.edge(1).get(KEY)) == "v3"


async def test_burst_takes_write_burst_writes_at_once_then_one_per_interval() -> None:
    """The default: ten writes to one key at once are all accepted, as the third-party
    measurement saw; the eleventh is refused, and the key takes one write per interval after."""
    clock = FakeClock()
    kv = model(clock)
    assert (kv.settings.write_limit, kv.settings.write_burst) == ("burst", 10)
    start = clock.now()
    for n in range(10):
        await clock.run(kv.edge(n % 4).put(KEY, f"v{n}"))
    assert clock.now() - start < 1.0  # all ten inside one write interval
    with pytest.raises(StoreUnavailable, match=TOO_MANY_WRITES):
        await clock.run(kv.edge(0).put(KEY, "v10"))
    await clock.run(kv.edge(0).put("session:other", "x"))  # the bucket is per key
    await clock.advance(1.0)  # one write's worth back
    await clock.run(kv.edge(0).put(KEY, "v11"))
    with pytest.raises(StoreUnavailable, match=TOO_MANY_WRITES):
        await clock.run(kv.edge(0).put(KEY, "v12"))
    await clock.advance(20.0)  # refilled to the burst, never beyond it
    for n in range(10):
        await clock.run(kv.edge(0).put(KEY, f"w{n}"))
    with pytest.raises(StoreUnavailable, match=TOO_MANY_WRITES):
        await clock.run(kv.edge(0).put(KEY, "w10"))


async def test_write_limit_off_accepts_every_write() -> None:
    clock = FakeClock()
    kv = model(clock, write_limit="off")
    for value in ("v1", "v2", "v3"):
        await clock.run(kv.edge(0).put(KEY, value))
    assert await clock.run(kv.edge(0).get(KEY)) == "v3"


async def test_latencies_are_model_milliseconds_times_the_time_scale() -> None:
    clock = FakeClock()
    kv = model(clock, time_scale=0.1)
    start = clock.now()  # epoch seconds: compare to the microsecond a float there can hold
    await clock.run(kv.edge(0).put(KEY, "v"))  # write_ms 50
    assert clock.now() - start == pytest.approx(0.005, abs=1e-6)
    await clock.run(kv.edge(0).get(KEY))  # cached at the writer's edge: hot_read_ms 2
    assert clock.now() - start == pytest.approx(0.0052, abs=1e-6)
    await clock.run(kv.edge(1).get(KEY))  # cold_read_ms 40
    assert clock.now() - start == pytest.approx(0.0092, abs=1e-6)


async def test_the_time_scale_shrinks_the_cache_ttl_and_the_write_interval() -> None:
    clock = FakeClock()
    kv = model(clock, time_scale=0.1, write_limit="strict")
    await clock.run(kv.edge(1).get(KEY))
    await clock.run(kv.edge(0).put(KEY, "v1"))
    await clock.advance(0.05)
    with pytest.raises(StoreUnavailable, match=TOO_MANY_WRITES):
        await clock.run(kv.edge(0).put(KEY, "v2"))
    assert await clock.run(kv.edge(1).get(KEY)) is None
    await clock.advance(6.0)  # 60 model seconds
    assert await clock.run(kv.edge(1).get(KEY)) == "v1"


async def test_values_expire_after_their_expiration_ttl_which_is_at_least_60() -> None:
    clock = FakeClock()
    kv = model(clock)
    with pytest.raises(ValueError, match="expiration_ttl"):
        await clock.run(kv.edge(0).put(KEY, "v", expiration_ttl=30))
    await clock.run(kv.edge(0).put(KEY, "v", expiration_ttl=90))
    await clock.advance(89.0)
    assert await clock.run(kv.edge(0).get(KEY)) == "v"
    await clock.advance(1.1)
    assert await clock.run(kv.edge(0).get(KEY)) is None
    assert await clock.run(kv.edge(0).list_keys("session:")) == []


async def test_routing_is_stable_per_client_and_reroute_moves_requests() -> None:
    clock = FakeClock()
    kv = model(clock)
    homes = {kv.home_edge(f"client-{i}") for i in range(40)}
    assert homes == {0, 1, 2, 3}
    assert all(kv.route("client-7").index == kv.home_edge("client-7") for _ in range(20))
    always = model(clock, reroute=1.0)
    home = always.home_edge("client-7")
    assert all(always.route("client-7").index != home for _ in range(50))


async def test_jitter_is_seeded_so_a_run_replays() -> None:
    async def durations() -> list[float]:
        clock = FakeClock()
        kv = KvModel(KvSettings(jitter=0.2, seed=3), 1.0, clock)
        times = []
        for i in range(5):
            start = clock.now()
            await clock.run(kv.edge(i % 4).put(f"k{i}", "v"))
            times.append(clock.now() - start)
        return times

    first = await durations()
    assert first == await durations()
    assert all(0.04 <= t <= 0.06 for t in first) and len(set(first)) > 1
