"""Cross-cutting request handling: JSON errors, CORS, and the server's own time per request, in
one middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import jsoncodec
from .appkeys import SETTINGS
from .payloads import BadRequest, is_unicode
from .stores.base import (
    AnswerConflict,
    CandidateLimit,
    CodeInUse,
    SessionNotFound,
    StorageLost,
    StoreError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

STORE_ERROR_STATUS: dict[type[StoreError], int] = {
    SessionNotFound: 404,
    CodeInUse: 409,
    AnswerConflict: 409,
    CandidateLimit: 413,
    StoreUnavailable: 500,
    StorageLost: 503,
    StoreError: 500,
}


def _error(status: int, message: str) -> web.Response:
    return jsoncodec.json_response({"error": message}, status=status)


def error_response(request: web.Request, error: Exception) -> web.Response:
    """Every error leaves as ``{"error": ...}``; an unexpected exception is logged, never leaked."""
    if isinstance(error, BadRequest):
        response = _error(error.status, str(error))
        if error.close_connection:
            response.force_close()
        return response
    if isinstance(error, StoreError):
        status = next(STORE_ERROR_STATUS[kind] for kind in type(error).__mro__
                      if kind in STORE_ERROR_STATUS)
        return _error(status, str(error))
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].max_body
        return _error(413, f"request body is larger than {limit} bytes")
    if isinstance(error, web.HTTPException):
        response = _error(error.status, error.reason)
        if "Allow" in error.headers:  # a 405 says which methods the route has
            response.headers["Allow"] = error.headers["Allow"]
        return response
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    return _error(500, "internal error")


class Cors:
    """CORS as rondevu did: reflect the request's Origin, or only the allowed ones if listed.
    The ``private`` paths are never allowed to any origin: a page elsewhere cannot read them."""

    def __init__(self, allowed: tuple[str, ...], private: frozenset[str]) -> None:
        self._allowed = allowed
        self._private = private

    def allows(self, request: web.Request, origin: str | None) -> bool:
        return (origin is not None and (not self._allowed or origin in self._allowed)
                and request.path not in self._private)

    @staticmethod
    def is_preflight(request: web.Request) -> bool:
        return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers

    def preflight(self, request: web.Request, origin: str | None) -> web.Response:
        response = web.Response(status=204)
        if self.allows(request, origin):
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Content-Type"
            )
            response.headers["Access-Control-Max-Age"] = "86400"
        return response

    def decorate(self, request: web.Request, origin: str | None,
                 response: web.StreamResponse) -> None:
        if self.allows(request, origin) and is_unicode(origin):  # type: ignore[arg-type]
            response.headers["Access-Control-Allow-Origin"] = origin  # type: ignore[assignment]
        # Always: a response without the header must not be served from a cache to an origin
        # that would have got it.
        response.headers["Vary"] = "Origin"


def middleware(cors: Cors) -> Middleware:
    """The server's one middleware: from the outside in, its own time (``Server-Timing``),
    CORS, and JSON errors. One coroutine layer instead of three: each layer cost a coroutine
    and a ``functools.partial`` per request, several percent of a poll's CPU."""

    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        origin = request.headers.get("Origin")
        if cors.is_preflight(request):
            response: web.StreamResponse = cors.preflight(request, origin)
        else:
            try:
                response = await handler(request)
            except Exception as error:
                response = error_response(request, error)
        cors.decorate(request, origin, response)
        # The server's own time per request, measured the same way for every store, so the
        # comparison can separate server cost from network and client cost.
        response.headers["Server-Timing"] = \
            f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        return response

    return handle
