"""Cross-cutting request handling: JSON errors, CORS, and the server's own time per request."""

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


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as ``{"error": ...}``; an unexpected exception is logged, never leaked."""
    try:
        return await handler(request)
    except BadRequest as error:
        response = _error(error.status, str(error))
        if error.close_connection:
            response.force_close()
        return response
    except StoreError as error:
        status = next(STORE_ERROR_STATUS[kind] for kind in type(error).__mro__
                      if kind in STORE_ERROR_STATUS)
        return _error(status, str(error))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body
        return _error(413, f"request body is larger than {limit} bytes")
    except web.HTTPException as error:
        response = _error(error.status, error.reason)
        if "Allow" in error.headers:  # a 405 says which methods the route has
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, "internal error")


def cors(allowed: tuple[str, ...], *, private: frozenset[str] = frozenset()
         ) -> Callable[..., Awaitable[web.StreamResponse]]:
    """CORS as rondevu did: reflect the request's Origin, or only the allowed ones if listed.
    The ``private`` paths are never allowed to any origin: a page elsewhere cannot read them."""

    def allow(request: web.Request, origin: str | None) -> bool:
        return (origin is not None and (not allowed or origin in allowed)
                and request.path not in private)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            if allow(request, origin):
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                    "Access-Control-Request-Headers", "Content-Type"
                )
                response.headers["Access-Control-Max-Age"] = "86400"
        else:
            response = await handler(request)
        if allow(request, origin) and is_unicode(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
        # Always: a response without the header must not be served from a cache to an origin
        # that would have got it.
        response.headers["Vary"] = "Origin"
        return response

    return middleware


@web.middleware
async def server_timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The server's own time per request, measured the same way for every store, so the
    comparison can separate server cost from network and client cost (Server-Timing header)."""
    started = time.perf_counter()
    response = await handler(request)
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.3f}"
    return response
