"""The KV-style baseline: rondevu's Workers KV storage, over the in-process KV model.

What rondevu's ``KVStorage`` did before it moved to D1, and nothing cleverer:

- the whole session is one JSON value under ``session:<code>`` (origin checked on read);
- each topic has an index, a JSON list of codes under ``index:<origin>:<topic>``, appended by
  reading it and putting it back (no compare-and-set exists in KV);
- an update reads the session once in the handler (the 404 check, and the copy a new candidate
  list is built from), then ``updateSession`` reads it again, merges the changed field over that
  copy and puts the whole value back. The answer is written without looking for an earlier one.

Every read may come from a stale edge copy, so an update can put back a session that lacks an
answer or candidates the central store already holds: that is the lost write the harness must
show. A write refused by KV's per-key limit raises :class:`~.base.StoreUnavailable` (500).
All KV calls of one request go through the edge that request was routed to.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

from . import limits_of
from .base import (
    Caller,
    CandidateLimit,
    Clock,
    CodeInUse,
    Session,
    SessionNotFound,
    SessionPage,
    SessionSummary,
    Side,
    StoreLimits,
    TopicCount,
    TopicPage,
    now_ms,
)
from .kv_model import MIN_EXPIRATION_TTL, Edge, KvModel

if TYPE_CHECKING:
    from ..settings import Settings

INDEX_GRACE = 300.0
"""Model seconds the topic index outlives its newest session (rondevu's ``ttl + 300``)."""

_CANDIDATE_FIELD = {Side.OFFERER: "offerCandidates", Side.ANSWERER: "answerCandidates"}


def session_key(code: str) -> str:
    return f"session:{code}"


def index_prefix(origin: str) -> str:
    return f"index:{origin}:"


def _session_of(data: dict[str, Any]) -> Session:
    return Session(
        code=data["code"],
        origin=data["origin"],
        topic=data["topic"],
        peer_id=data["peerId"],
        offer=data["offer"],
        answer=data.get("answer"),
        offer_candidates=tuple(data["offerCandidates"]),
        answer_candidates=tuple(data["answerCandidates"]),
        created_at=data["createdAt"],
        expires_at=data["expiresAt"],
    )


class KvStore:
    """The :class:`~.base.Store` protocol over :class:`~.kv_model.KvModel`, as rondevu used KV."""

    def __init__(self, model: KvModel, limits: StoreLimits, clock: Clock) -> None:
        self.model = model
        self._limits = limits
        self._clock = clock

    def _ttl(self, expires_at_ms: int) -> float:
        """rondevu's ``Math.max(60, floor(remaining seconds))``, in model seconds."""
        remaining = self.model.to_model((expires_at_ms - now_ms(self._clock)) / 1000.0)
        return max(MIN_EXPIRATION_TTL, float(math.floor(remaining)))

    async def _read(self, edge: Edge, caller: Caller, code: str) -> dict[str, Any]:
        """rondevu's ``getSession``: the edge's copy, unless missing, another origin's or expired
        (all three a 404)."""
        raw = await edge.get(session_key(code))
        data: dict[str, Any] | None = json.loads(raw) if raw is not None else None
        now = now_ms(self._clock)
        if data is None or data["origin"] != caller.origin or data["expiresAt"] <= now:
            raise SessionNotFound(code)
        return data

    async def _update(self, edge: Edge, caller: Caller, code: str, **fields: Any) -> None:
        """rondevu's ``updateSession``: read again, merge ``fields`` over it, put it all back."""
        current = await self._read(edge, caller, code)
        current.update(fields)
        await edge.put(session_key(code), json.dumps(current),
                       expiration_ttl=self._ttl(current["expiresAt"]))

    async def create(
        self, caller: Caller, *, code: str, topic: str, peer_id: str, offer: str
    ) -> Session:
        edge = self.model.route(caller.client)
        key = session_key(code)
        existing = await edge.get(key)
        if existing is not None and json.loads(existing)["expiresAt"] > now_ms(self._clock):
            raise CodeInUse(f"code {code!r} is already in use")
        created_at = now_ms(self._clock)
        data = {
            "code": code, "origin": caller.origin, "topic": topic, "peerId": peer_id,
            "offer": offer, "answer": None, "offerCandidates": [], "answerCandidates": [],
            "createdAt": created_at, "expiresAt": created_at + self._limits.session_ttl_ms,
        }
        ttl = self._ttl(data["expiresAt"])
        await edge.put(key, json.dumps(data), expiration_ttl=ttl)
        index_key = index_prefix(caller.origin) + topic
        index = await edge.get(index_key)
        codes = [*json.loads(index), code] if index is not None else [code]
        await edge.put(index_key, json.dumps(codes), expiration_ttl=ttl + INDEX_GRACE)
        return _session_of(data)

    async def get(self, caller: Caller, code: str) -> Session:
        edge = self.model.route(caller.client)
        return _session_of(await self._read(edge, caller, code))

    async def set_answer(self, caller: Caller, code: str, answer: str) -> None:
        """Overwrites any earlier answer, as rondevu did: KV has nothing to check it against."""
        edge = self.model.route(caller.client)
        await self._read(edge, caller, code)
        await self._update(edge, caller, code, answer=answer)

    async def append_candidate(
        self, caller: Caller, code: str, side: Side, candidate: str
    ) -> None:
        edge = self.model.route(caller.client)
        session = await self._read(edge, caller, code)
        field = _CANDIDATE_FIELD[side]
        if len(session[field]) >= self._limits.max_candidates:
            raise CandidateLimit(code, side, self._limits.max_candidates)
        await self._update(edge, caller, code, **{field: [*session[field], candidate]})

    async def _open_sessions(self, edge: Edge, origin: str, index_key: str) -> list[Session]:
        """The unanswered, unexpired sessions of ``origin`` an index names, fetched in parallel
        as rondevu did. The origin is checked on each session because ``index:<origin>:`` is
        ambiguous (an origin with a port prefixes one without), a leak rondevu had and the
        harness does not need."""
        index = await edge.get(index_key)
        if index is None:
            return []
        raws = await asyncio.gather(*(edge.get(session_key(code)) for code in json.loads(index)))
        now = now_ms(self._clock)
        sessions = [_session_of(json.loads(raw)) for raw in raws if raw is not None]
        return [s for s in sessions
                if s.expires_at > now and s.answer is None and s.origin == origin]

    async def list_by_topic(self, caller: Caller, topic: str, *, limit: int) -> SessionPage:
        """Reads every session the index names, as rondevu did, and shows the newest."""
        edge = self.model.route(caller.client)
        sessions = await self._open_sessions(edge, caller.origin,
                                             index_prefix(caller.origin) + topic)
        newest = sorted(sessions, key=lambda s: s.created_at, reverse=True)[:limit]
        summaries = [SessionSummary(s.code, s.peer_id, s.offer, s.created_at, s.expires_at)
                     for s in newest]
        return SessionPage(summaries, total=len(sessions))

    async def list_topics(self, caller: Caller, *, page: int, limit: int) -> TopicPage:
        edge = self.model.route(caller.client)
        prefix = index_prefix(caller.origin)
        counts = []
        for index_key in await edge.list_keys(prefix):
            count = len(await self._open_sessions(edge, caller.origin, index_key))
            if count:
                counts.append(TopicCount(index_key[len(prefix):], count))
        start = (page - 1) * limit
        return TopicPage(topics=counts[start:start + limit], total=len(counts))

    async def leave(self, caller: Caller, code: str) -> None:
        """Deletes the session's key; the topic index keeps the code (listings skip it)."""
        edge = self.model.route(caller.client)
        await self._read(edge, caller, code)
        await edge.delete(session_key(code))

    async def sweep_expired(self) -> int:
        """Nothing to do: every value was put with an ``expirationTtl`` and KV expires it."""
        return 0

    def problem(self) -> None:
        """Never: the model has no file to lose."""
        return None

    async def close(self) -> None:
        """Nothing to release: the model lives in this process's memory."""


async def open_store(settings: Settings, clock: Clock) -> KvStore:
    model = KvModel(settings.kv, settings.time_scale, clock)
    return KvStore(model, limits_of(settings), clock)
