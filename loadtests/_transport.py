"""One HTTP exchange with the server, timed for the history and counted in Locust's statistics.

Every exchange goes through Locust's ``FastHttpSession`` with ``catch_response``, so Locust counts
exactly the exchanges that completed (with or without a response), under the operation's name.
Final reads use a session whose request event nobody listens to: they belong to the history,
not to the load.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from locust.contrib.fasthttp import FastHttpSession

_SERVER_TIMING = re.compile(r"(?:^|,)\s*app\s*;[^,]*?\bdur=([0-9.]+)")


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: ``status`` None when no response came (``error`` says why)."""

    status: int | None
    body: Any
    error: str | None
    server_ms: float | None
    t0: int
    t1: int


def server_ms(header: str | None) -> float | None:
    """The ``app`` duration of a ``Server-Timing`` header, in milliseconds."""
    found = _SERVER_TIMING.search(header or "")
    return float(found.group(1)) if found else None


def _short(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _error_of(status: int, body: Any, raw: str | None) -> str | None:
    if 200 <= status < 300:
        return None
    if isinstance(body, dict) and "error" in body:
        return _short(body["error"])
    return _short(raw or f"HTTP {status}")


class Transport:
    """Sends one request for one browser (its ``X-Client-Id``) from one origin."""

    def __init__(self, session: FastHttpSession, origin: str) -> None:
        self.session = session
        self.origin = origin

    def exchange(self, method: str, path: str, body: Any, *, client: str, name: str,
                 expected: Collection[int] = (200,)) -> Reply:
        """Send, read, and report to Locust: a success when the status is one ``expected``."""
        headers = {"Origin": self.origin, "X-Client-Id": client}
        t0 = time.monotonic_ns()
        with self.session.request(method, path, name=name, json=body, headers=headers,
                                  catch_response=True) as response:
            t1 = time.monotonic_ns()
            status = response.status_code or None
            if status is None:
                reply = Reply(None, None, _short(getattr(response, "error", "no response")),
                              None, t0, t1)
            else:
                raw = response.text
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                timing = response.headers.get("Server-Timing") if response.headers else None
                reply = Reply(status, parsed, _error_of(status, parsed, raw), server_ms(timing),
                              t0, t1)
            if status in expected:
                response.success()
            else:
                response.failure(f"{status or 'no response'}: {reply.error}")
        return reply
