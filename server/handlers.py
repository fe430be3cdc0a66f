"""The signaling API's route handlers (``docs/api.md``), one function per route.

Handlers check input (``payloads``), call the store, and shape the response; they never catch
store errors themselves: ``middleware.error_response`` maps each :class:`StoreError` to its
status, so a status means the same thing on every route.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from . import jsoncodec, payloads
from .appkeys import CLOCK, SETTINGS, STORE
from .stores.base import Caller, SessionSummary, Side, now_ms
from .version import server_version

routes = web.RouteTableDef()


def caller_of(request: web.Request) -> Caller:
    """Sessions belong to the Origin (``unknown`` without one, as rondevu did); the KV model
    routes each logical client (``X-Client-Id``, else its address) to an edge."""
    return Caller(
        origin=payloads.header(request, "Origin") or "unknown",
        client=payloads.header(request, "X-Client-Id") or request.remote or "unknown",
    )


def _listing(session: SessionSummary) -> dict[str, Any]:
    return {
        "code": session.code,
        "peerId": session.peer_id,
        "offer": session.offer,
        "createdAt": session.created_at,
        "expiresAt": session.expires_at,
    }


def within_budget(entries: Iterable[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The leading entries whose JSON takes at most ``budget`` bytes, but always the first, so
    a listing of one large offer still shows it: what one listing costs is then bounded by the
    budget (plus one request body), whatever the topic holds."""
    kept: list[dict[str, Any]] = []
    used = 0
    for entry in entries:
        # Its separator counted as two bytes, json.dumps's ", " (orjson writes one): the
        # budget errs on the side of less.
        used += len(jsoncodec.dumps(entry)) + 2
        if kept and used > budget:
            break
        kept.append(entry)
    return kept


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """503 when the store refuses requests (its database file is gone), so a health check sees
    what clients would otherwise learn only by losing their writes."""
    timestamp = now_ms(request.app[CLOCK])
    problem = request.app[STORE].problem()
    if problem is not None:
        return jsoncodec.json_response(
            {"status": "unavailable", "error": problem, "timestamp": timestamp}, status=503
        )
    return jsoncodec.json_response({"status": "ok", "timestamp": timestamp})


HARNESS_CONFIG = "/_harness/config"
"""Not part of the signaling API, and not for browsers: ``middleware.Cors`` never allows it to
another origin."""


@routes.get(HARNESS_CONFIG)
async def harness_config(request: web.Request) -> web.Response:
    """Lets load tests record what they ran against; no local paths."""
    settings = request.app[SETTINGS]
    return jsoncodec.json_response({"backend": settings.backend, "settings": settings.shareable()})


@routes.get("/")
@routes.get("/topics")
async def list_topics(request: web.Request) -> web.Response:
    """The topic listing, at ``/`` as rondevu-client 0.0.4 called it and at ``/topics`` as
    0.3.0 did; 0.3.0 also reads ``version`` from ``GET /``, so the listing carries it."""
    paging = payloads.paging(request.query)
    page = await request.app[STORE].list_topics(
        caller_of(request), page=paging.page, limit=paging.limit
    )
    return jsoncodec.json_response({
        "version": server_version(),
        "topics": [{"topic": t.topic, "count": t.count} for t in page.topics],
        "pagination": {
            "page": paging.page,
            "limit": paging.limit,
            "total": page.total,
            "hasMore": paging.page * paging.limit < page.total,
        },
    })


@routes.post("/answer")
async def answer(request: web.Request) -> web.Response:
    body = await payloads.json_object(request)
    code = payloads.text_field(body, "code", max_len=payloads.MAX_CODE)
    side = payloads.side_field(body)
    sdp = payloads.text_field(body, "answer", required=False)
    candidate = payloads.text_field(
        body, "candidate", max_len=payloads.MAX_CANDIDATE, required=False
    )
    if (sdp is None) == (candidate is None):
        raise payloads.BadRequest("exactly one of the fields answer and candidate is required")
    store, caller = request.app[STORE], caller_of(request)
    if sdp is not None:
        if side is not Side.ANSWERER:
            raise payloads.BadRequest("field side must be 'answerer' to post an answer")
        await store.set_answer(caller, code, sdp)
    else:
        await store.append_candidate(caller, code, side, candidate)
    return jsoncodec.json_response({"success": True})


@routes.post("/poll")
async def poll(request: web.Request) -> web.Response:
    body = await payloads.json_object(request)
    code = payloads.text_field(body, "code", max_len=payloads.MAX_CODE)
    side = payloads.side_field(body)
    session = await request.app[STORE].get(caller_of(request), code)
    if side is Side.OFFERER:
        return jsoncodec.json_response(
            {"answer": session.answer, "answerCandidates": list(session.answer_candidates)}
        )
    return jsoncodec.json_response(
        {"offer": session.offer, "offerCandidates": list(session.offer_candidates)}
    )


@routes.post("/leave")
async def leave(request: web.Request) -> web.Response:
    body = await payloads.json_object(request)
    code = payloads.text_field(body, "code", max_len=payloads.MAX_CODE)
    await request.app[STORE].leave(caller_of(request), code)
    return jsoncodec.json_response({"success": True})


@routes.post("/{topic}/offer")
async def offer(request: web.Request) -> web.Response:
    topic = payloads.path_name(request, "topic")
    body = await payloads.json_object(request)
    peer_id = payloads.text_field(body, "peerId", max_len=payloads.MAX_NAME)
    sdp = payloads.text_field(body, "offer")
    code = payloads.text_field(body, "code", max_len=payloads.MAX_CODE, required=False)
    session = await request.app[STORE].create(
        caller_of(request), code=code or str(uuid.uuid4()), topic=topic, peer_id=peer_id,
        offer=sdp,
    )
    return jsoncodec.json_response({"code": session.code})


@routes.get("/{topic}/sessions")
async def sessions(request: web.Request) -> web.Response:
    """The newest open sessions, bounded in count (``?limit``) and in bytes (``--listing-budget``),
    without their candidates (``docs/server-limits.md``)."""
    topic = payloads.path_name(request, "topic")
    limit = payloads.listing_limit(request.query)
    page = await request.app[STORE].list_by_topic(caller_of(request), topic, limit=limit)
    shown = within_budget((_listing(s) for s in page.sessions),
                          request.app[SETTINGS].listing_budget)
    return jsoncodec.json_response(
        {"sessions": shown, "total": page.total, "hasMore": len(shown) < page.total}
    )
