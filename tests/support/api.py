"""Requests to an in-process app (pytest-aiohttp's ``TestClient``), shared by the API suites.

``test_api.py`` runs one suite on every backend and ``test_baselines_api.py`` what only the
baselines show; both speak to the server through these helpers, so a request is built one way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from server.settings import Settings
from support import ORIGIN

SettingsFactory = Callable[..., Settings]
"""``api_settings(backend, **overrides)``: the conftest fixture's settings for one app."""

class ManualClock:
    """Wall-clock time that a test moves by hand, to expire sessions without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


HEADERS = {"Origin": ORIGIN, "X-Client-Id": "client-1"}
OFFER = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER = "v=0\r\no=- 1234567890 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def call(client: TestClient, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None, raw: str | bytes | None = None
               ) -> tuple[int, Any]:
    """The status and the decoded JSON body (None when empty) of one request."""
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    response = await client.request(method, path, data=data, headers=headers or HEADERS)
    text = await response.text()
    return response.status, json.loads(text) if text else None


async def create(client: TestClient, topic: str = "room", **fields: Any) -> str:
    """Create a session in ``topic`` (asserting it worked) and return its code."""
    status, body = await call(client, "POST", f"/{topic}/offer",
                              {"peerId": "peer-a", "offer": OFFER, **fields})
    assert status == 200, body
    return body["code"]


async def poll(client: TestClient, code: str, side: str) -> dict[str, Any]:
    """One side's poll of ``code`` (asserting it worked)."""
    status, body = await call(client, "POST", "/poll", {"code": code, "side": side})
    assert status == 200, body
    return body
