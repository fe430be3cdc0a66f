"""What a client of the baselines sees over HTTP that the shared API suite does not cover."""

from __future__ import annotations

import dataclasses
from typing import Any

from server.app import create_app
from support import candidate
from support.api import HEADERS, SettingsFactory, call, create, poll


async def test_kv_write_limit_is_a_500_with_kvs_error(aiohttp_client: Any,
                                                       api_settings: SettingsFactory) -> None:
    """A trickling client writes its session's key many times within a second: KV takes the
    first ``write_burst`` writes (the create and nine candidates) and refuses the next with a
    429, which rondevu did not catch, so the client saw a 500."""
    settings = api_settings("kv")
    # The documented interval; time scale 10 makes it 10 wall seconds, so the test cannot be
    # slow enough for the bucket to refill.
    settings = dataclasses.replace(
        settings, time_scale=10.0, kv=dataclasses.replace(settings.kv, write_interval=1.0)
    )
    assert settings.kv.write_burst == 10
    client = await aiohttp_client(create_app(settings))
    code = await create(client)
    sent = [candidate(f"c{n}", n) for n in range(10)]
    statuses = []
    for value in sent:
        status, body = await call(client, "POST", "/answer",
                                  {"code": code, "side": "offerer", "candidate": value})
        statuses.append(status)
    assert statuses == [200] * 9 + [500]
    assert body == {"error": "KV PUT failed: 429 Too Many Requests"}
    assert (await poll(client, code, "answerer"))["offerCandidates"] == sent[:9]  # none lost,
    # none half-written: the refused one is not stored


async def test_harness_config_reports_the_kv_model(aiohttp_client: Any,
                                                   api_settings: SettingsFactory) -> None:
    client = await aiohttp_client(create_app(api_settings("kv")))
    status, body = await call(client, "GET", "/_harness/config", headers=HEADERS)
    assert status == 200 and body["backend"] == "kv"
    assert set(body["settings"]["kv"]) >= {
        "edges", "cache_ttl", "write_interval", "write_limit", "reroute",
        "hot_read_ms", "cold_read_ms", "write_ms", "jitter", "seed",
    }
    assert body["settings"]["time_scale"] == 1.0
