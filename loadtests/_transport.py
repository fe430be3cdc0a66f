"""One HTTP exchange with the server, timed for the history and counted in Locust's statistics.

Every exchange goes through the connection pool of the user's Locust ``FastHttpSession`` (its
geventhttpclient clients, with the user's timeouts and concurrency), and is reported on the
session's request event as ``FastHttpSession`` reports a request with ``catch_response`` (Locust's
way for a client of one's own: "Testing other systems"), so Locust counts exactly the exchanges
that completed (with or without a response), under the operation's name. Going to the pool's
client directly, rather than through ``FastHttpSession.request`` and geventhttpclient's user
agent, takes out what the API never needs (cookies, redirects, an exception per 4xx, the
response's charset guessed, the URL parsed for every request): it is most of what the load
generator spends per operation besides the exchange itself. Final reads use a session whose
request event nobody listens to: they belong to the history, not to the load.

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

Request and response bodies are encoded and decoded with orjson, from and to bytes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from geventhttpclient.client import HTTPClient
from geventhttpclient.response import HTTPConnectionClosed
from geventhttpclient.url import URL
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS, FastHttpSession
from locust.exception import CatchResponseError

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


def _text(content: bytes | None) -> str:
    """A body that is not the API's JSON, as text for an error message."""
    return content.decode("utf-8", "replace") if content else ""


def _error_of(status: int, body: Any, content: bytes | None) -> str | None:
    if 200 <= status < 300:
        return None
    if isinstance(body, dict) and "error" in body:
        return _short(body["error"])
    return _short(_text(content) or f"HTTP {status}")


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
        self._clients: dict[str, tuple[HTTPClient, str]] = {}
        """Per base URL: the pool's client for it, and the path it puts before every route."""

    def exchange(self, method: str, path: str, body: Any, *, client: str, name: str,
                 expected: Collection[int] = (200,), read: bool = False) -> Reply:
        """Send, read, and report to Locust: a success when the status is one ``expected``.

        ``path`` is a route of Locust's host, or a whole URL (another of ``--hosts``). A
        ``read`` whose connection was dropped before the response is sent once more.
        """
        headers = {"Origin": self.origin, "X-Client-Id": client}
        data = b""
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        http, uri = self._route(path)
        t0 = time.monotonic_ns()
        retry = read
        while True:
            started = time.time()
            status, content, timing, error = _send(http, method, uri, data, headers)
            t1 = time.monotonic_ns()
            if status is None and retry and dropped(error):
                self._report(method, name, started, t0, t1, content, CatchResponseError(
                    f"connection dropped before a response ({error}); the read was sent again"))
                retry = False
                continue
            reply = self._reply(status, content, timing, error, method, path, name, t0, t1)
            if reply.unsupported:
                self._report(method, f"{name}: {NOT_SUPPORTED}", started, t0, t1, content, None)
            elif status in expected:
                self._report(method, name, started, t0, t1, content, None)
            else:
                self._report(method, name, started, t0, t1, content, CatchResponseError(
                    f"{status or 'no response'}: {reply.error}"))
            return reply

    def _route(self, path: str) -> tuple[HTTPClient, str]:
        """The pool's client for ``path``'s server and the request URI to send it."""
        base, route = path, ""
        scheme = path.find("://")
        if scheme < 0:
            base, route = self.session.base_url or "", path
        else:
            slash = path.find("/", scheme + 3)
            if slash >= 0:
                base, route = path[:slash], path[slash:]
        known = self._clients.get(base)
        if known is None:
            url = URL(base)
            known = self._clients[base] = (self.session.client.clientpool.get_client(url),
                                           url.path.rstrip("/"))
        return known[0], known[1] + route

    def _report(self, method: str, name: str, started: float, t0: int, t1: int,
                content: bytes | None, exception: Exception | None) -> None:
        self.session.request_event.fire(
            request_type=method, name=name, start_time=started,
            response_time=(t1 - t0) / 1e6, response_length=len(content or b""),
            response=None, context={}, exception=exception, url=None)

    def _reply(self, status: int | None, content: bytes | None, timing: str | None,
               error: Exception | None, method: str, path: str, name: str, t0: int, t1: int
               ) -> Reply:
        if status is None:
            return Reply(None, None, _short(error or "no response"), None, t0, t1)
        try:
            parsed = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            parsed = None
        missing = route_missing(status, parsed)
        if missing and name not in self.unsupported:
            self.unsupported[name] = (f"{method} {path} answered {status} "
                                      f"{_short(_text(content), 60)!r}")
            log.warning("%s %s answered %s without the API's JSON error: %s is %s; it is not "
                        "sent again", method, path, status, name, NOT_SUPPORTED)
        return Reply(status, parsed, _error_of(status, parsed, content), server_ms(timing), t0, t1,
                     unsupported=missing)


def _send(http: HTTPClient, method: str, uri: str, data: bytes, headers: dict[str, str]
          ) -> tuple[int | None, bytes | None, str | None, Exception | None]:
    """(status, body, Server-Timing header, None), or (None, None, None, the error) when no
    whole response came (what ``FastHttpSession`` counts as a failed request)."""
    try:
        response = http.request(method, uri, body=data, headers=headers)
        content = response.read()
    except FAILURE_EXCEPTIONS as error:
        return None, None, None, error
    return response.status_code, content, response.get("Server-Timing"), None
