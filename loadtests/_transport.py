"""One HTTP exchange with the server, timed for the history and counted in Locust's statistics.

Every exchange goes through Locust's ``FastHttpSession`` with ``catch_response``, so Locust counts
exactly the exchanges that completed (with or without a response), under the operation's name.
Final reads use a session whose request event nobody listens to: they belong to the history,
not to the load.

Two things a browser does are done here too:

- a read whose connection was dropped before any byte of the response came back (the keep-alive
  race with a server that closes idle connections) is sent once more, as browsers retry it; the
  read is one operation from the first attempt's start to the second's end, and Locust counts
  the dropped attempt as a failure of its own. Writes are never retried: a dropped write may
  have taken effect, and its outcome stays unknown;
- a route the target does not have (a 404 that is not the API's JSON error, e.g. the plain text
  of its web framework) is noted once per process in :attr:`Transport.unsupported`, counted in
  Locust as ``<op>: not supported by this target`` (not a failure), and the peers send that
  operation no more.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed
from locust.contrib.fasthttp import FastHttpSession

log = logging.getLogger(__name__)

_SERVER_TIMING = re.compile(r"(?:^|,)\s*app\s*;[^,]*?\bdur=([0-9.]+)")
NOT_SUPPORTED = "not supported by this target"


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: ``status`` None when no response came (``error`` says why)."""

    status: int | None
    body: Any
    error: str | None
    server_ms: float | None
    t0: int
    t1: int
    unsupported: bool = False
    """The target lacks the route (see the module docstring): nothing happened."""


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


def route_missing(status: int | None, body: Any) -> bool:
    """A 404 without the API's ``{"error": ...}`` body: the target has no such route (the API
    answers an unknown session with its JSON error)."""
    return status == 404 and not (isinstance(body, dict) and "error" in body)


def dropped(error: Any) -> bool:
    """The connection closed before any byte of the response (geventhttpclient raises
    ``HTTPConnectionClosed`` only then)."""
    return isinstance(error, HTTPConnectionClosed)


class Transport:
    """Sends one request for one browser (its ``X-Client-Id``) from one origin.

    ``unsupported`` (operation name -> what the target answered) is shared by every transport
    of the process, so a missing route is found once.
    """

    def __init__(self, session: FastHttpSession, origin: str,
                 unsupported: dict[str, str] | None = None) -> None:
        self.session = session
        self.origin = origin
        self.unsupported = unsupported if unsupported is not None else {}

    def exchange(self, method: str, path: str, body: Any, *, client: str, name: str,
                 expected: Collection[int] = (200,), read: bool = False) -> Reply:
        """Send, read, and report to Locust: a success when the status is one ``expected``.

        A ``read`` whose connection was dropped before the response is sent once more.
        """
        headers = {"Origin": self.origin, "X-Client-Id": client}
        t0 = time.monotonic_ns()
        retry = read
        while True:
            with self.session.request(method, path, name=name, json=body, headers=headers,
                                      catch_response=True) as response:
                t1 = time.monotonic_ns()
                status = response.status_code or None
                error = getattr(response, "error", None)
                if status is None and retry and dropped(error):
                    response.failure(f"connection dropped before a response ({error}); "
                                     "the read was sent again")
                    retry = False
                    continue
                reply = self._reply(response, status, method, path, name, t0, t1)
                if reply.unsupported:
                    response.request_meta["name"] = f"{name}: {NOT_SUPPORTED}"
                    response.success()
                elif status in expected:
                    response.success()
                else:
                    response.failure(f"{status or 'no response'}: {reply.error}")
            return reply

    def _reply(self, response: Any, status: int | None, method: str, path: str, name: str,
               t0: int, t1: int) -> Reply:
        if status is None:
            return Reply(None, None, _short(getattr(response, "error", "no response")), None,
                         t0, t1)
        raw = response.text
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        timing = response.headers.get("Server-Timing") if response.headers else None
        missing = route_missing(status, parsed)
        if missing and name not in self.unsupported:
            self.unsupported[name] = f"{method} {path} answered {status} {_short(raw, 60)!r}"
            log.warning("%s %s answered %s without the API's JSON error: %s is %s; it is not "
                        "sent again", method, path, status, name, NOT_SUPPORTED)
        return Reply(status, parsed, _error_of(status, parsed, raw), server_ms(timing), t0, t1,
                     unsupported=missing)
