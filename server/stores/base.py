"""The contract every storage backend meets, and the errors handlers translate into HTTP.

One protocol, several implementations (``sqlite``, ``rmw``, ``kv``): the route handlers never
know which one they talk to, so the same API tests run against all of them and only the
concurrency tests tell them apart.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import Protocol


class Side(enum.StrEnum):
    """Which peer's candidate list an append or a poll addresses."""

    OFFERER = "offerer"
    ANSWERER = "answerer"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: sessions are scoped to the origin; the KV model routes by client."""

    origin: str
    client: str


@dataclass(frozen=True, slots=True)
class Session:
    """One signaling session as a poll or a listing sees it."""

    code: str
    origin: str
    topic: str
    peer_id: str
    offer: str
    answer: str | None
    offer_candidates: tuple[str, ...]
    answer_candidates: tuple[str, ...]
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session as a listing shows it: enough to choose it, none of its candidates.

    A listing that carried every candidate of every session cost up to the candidate bound times
    8 KiB per session (164 MB for 40 full sessions); an answerer polls for the candidates of the
    one session it picks anyway (``docs/server-limits.md``)."""

    code: str
    peer_id: str
    offer: str
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class SessionPage:
    """The newest ``sessions`` of a topic, and how many open sessions it has in all."""

    sessions: list[SessionSummary]
    total: int


@dataclass(frozen=True, slots=True)
class TopicCount:
    topic: str
    count: int


@dataclass(frozen=True, slots=True)
class TopicPage:
    topics: list[TopicCount]
    total: int


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """Bounds every backend enforces the same way, so a 4xx means the same on all of them."""

    session_ttl_ms: int
    max_candidates: int


class StartupError(RuntimeError):
    """The database cannot be opened or migrated; the message says which one and why."""


class StoreError(Exception):
    """A request the store refused; the handler maps the subclass to an HTTP status."""


class SessionNotFound(StoreError):
    """Unknown, expired, or another origin's code: all look alike (404, never 403)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"session {code!r} not found")


class CodeInUse(StoreError):
    """A client-chosen code that an existing session already holds (409)."""


class AnswerConflict(StoreError):
    """A different answer for an answered session (409); the first answer stays."""


class CandidateLimit(StoreError):
    """The side already holds the maximum number of candidates (413); nothing appended."""

    def __init__(self, code: str, side: Side, limit: int) -> None:
        super().__init__(f"the {side} side of session {code!r} already holds {limit} candidates")


class StoreUnavailable(StoreError):
    """The backing store failed the request (the KV write limit): rondevu's clients saw a 500."""


class StorageLost(StoreError):
    """The database file the store opened was deleted or replaced (503): a write would be
    acknowledged into a file nobody opens again, a read shows what is about to vanish."""


class Clock(Protocol):
    """Time as the stores see it; tests substitute a fake one to replay races without sleeping."""

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and real sleeps."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def now_ms(clock: Clock) -> int:
    return int(clock.now() * 1000)


class Store(Protocol):
    """What the route handlers need from storage.

    Every method raises a :class:`StoreError` subclass for a request it refuses; a refused
    request changes nothing.
    """

    async def create(
        self, caller: Caller, *, code: str, topic: str, peer_id: str, offer: str
    ) -> Session:
        """Store a new session under ``code``; raises :class:`CodeInUse`."""
        ...

    async def get(self, caller: Caller, code: str) -> Session:
        """The session as a poll sees it; raises :class:`SessionNotFound`."""
        ...

    async def set_answer(self, caller: Caller, code: str, answer: str) -> None:
        """Write-once answer: the same answer again succeeds, a different one raises
        :class:`AnswerConflict` (baselines may differ, as documented in docs/baselines.md)."""
        ...

    async def append_candidate(
        self, caller: Caller, code: str, side: Side, candidate: str
    ) -> None:
        """Append to one side's list; raises :class:`CandidateLimit` past the bound."""
        ...

    async def list_by_topic(self, caller: Caller, topic: str, *, limit: int) -> SessionPage:
        """The newest ``limit`` unanswered, unexpired sessions of this origin and topic, newest
        first, and how many there are."""
        ...

    async def list_topics(self, caller: Caller, *, page: int, limit: int) -> TopicPage:
        """Topics with unanswered sessions of this origin, sorted by name, one page."""
        ...

    async def leave(self, caller: Caller, code: str) -> None:
        """Delete the session; raises :class:`SessionNotFound`."""
        ...

    async def sweep_expired(self) -> int:
        """Delete expired sessions; returns how many."""
        ...

    def problem(self) -> str | None:
        """Why the store refuses requests (for ``/health``), or None when it takes them."""
        ...

    async def close(self) -> None: ...
