"""The two routes rondevu-client 0.3.0 needs beyond the API of 0.0.4 (issue 10), on every
backend: ``GET /topics?page&limit`` (404 before) as the topic listing, and ``GET /`` carrying
``{"version"}`` (absent before) while still being the listing 0.0.4 reads."""

from __future__ import annotations

import json
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.process import ServerProcess
from server.stores import BACKENDS
from server.version import DISTRIBUTION, UNKNOWN, server_version
from support.api import SettingsFactory, call, create


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_topics_is_the_listing_under_its_later_name(aiohttp_client: Any, api_settings: SettingsFactory,
                                                         backend: str) -> None:
    client = await aiohttp_client(create_app(api_settings(backend)))
    for topic in ("b", "a", "c", "a"):
        await create(client, topic)
    status, body = await call(client, "GET", "/topics?page=1&limit=2")
    assert status == 200
    assert body["topics"] == [{"topic": "a", "count": 2}, {"topic": "b", "count": 1}]
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "hasMore": True}
    assert await call(client, "GET", "/topics?page=1&limit=2") == await call(
        client, "GET", "/?page=1&limit=2")
    status, body = await call(client, "GET", "/topics?limit=1001")
    assert status == 400 and "limit" in body["error"]


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_root_is_the_listing_and_carries_the_version(aiohttp_client: Any, api_settings: SettingsFactory,
                                                          backend: str) -> None:
    client = await aiohttp_client(create_app(api_settings(backend)))
    await create(client, "room")
    status, body = await call(client, "GET", "/")
    assert status == 200
    assert body["version"] == metadata.version(DISTRIBUTION)  # installed by the test setup
    assert body["topics"] == [{"topic": "room", "count": 1}]
    assert body["pagination"]["total"] == 1


def test_version_falls_back_when_the_distribution_is_not_installed() -> None:
    assert server_version("no-such-distribution-installed-here") == UNKNOWN


def test_both_routes_on_a_real_server(tmp_path: Path) -> None:
    """As rondevu-client 0.3.0 calls them (``/topics`` answered 404 before)."""
    with ServerProcess(tmp_path / "s.db") as server:
        with urllib.request.urlopen(f"{server.url}/topics?page=1&limit=100", timeout=10) as r:
            assert r.status == 200 and json.load(r)["topics"] == []
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as r:
            assert json.load(r)["version"] == server_version()
