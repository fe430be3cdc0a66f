"""An in-process emulation of Cloudflare Workers KV: a central store behind edge caches.

The KV-style baseline must lose writes for the reasons Workers KV documents and for no others
(``docs/baselines.md``). So the model holds exactly those mechanisms:

- a **central store**, key -> (value, expiry); the last write to arrive wins;
- ``edges`` **edge caches**, key -> (value or *not found*, fetched at); a read at an edge returns
  its entry while it is younger than ``cache_ttl``, stale or not, otherwise it reads the central
  store and caches what it found, *not found* included;
- **writes** go to the central store and refresh only the writing edge's cache;
- a **per-key write limit**, a token bucket per key refilled with one write per
  ``write_interval``: it holds ``write_burst`` writes in ``burst`` mode (as measured), one in
  ``strict`` mode (as documented), and ``off`` has none; a write that finds the bucket empty is
  refused with KV's ``429 Too Many Requests``;
- **routing** of each request to the client's home edge, or with probability ``reroute`` to a
  random other one;
- **latencies** (hot read, cold read, write) slept on the injected clock.

Durations in :class:`~server.settings.KvSettings` are model seconds; ``time_scale`` maps them to
the clock's seconds, so a fake clock replays the same schedule a real one would.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

from ..settings import KvSettings
from .base import Clock, StoreUnavailable

MIN_EXPIRATION_TTL = 60.0
"""KV refuses an ``expirationTtl`` under 60 seconds (KV docs, write key-value pairs)."""


TOO_MANY_WRITES = "KV PUT failed: 429 Too Many Requests"
"""KV's error when the per-key write limit refuses a put. rondevu did not catch it, so its
clients saw a 500: the model raises it as :class:`StoreUnavailable` (itself, not a subclass,
as the error middleware maps exact types)."""


@dataclass(frozen=True, slots=True)
class _Stored:
    """A value in the central store; ``expires`` in clock seconds, None for never."""

    value: str
    expires: float | None


@dataclass(frozen=True, slots=True)
class _Cached:
    """An edge's copy of a key: the value, or None for a cached *not found*."""

    value: str | None
    fetched_at: float
    expires: float | None


def _live(expires: float | None, now: float) -> bool:
    return expires is None or now < expires


class KvModel:
    """The shared state of one KV namespace: the central store and every edge's cache."""

    def __init__(self, settings: KvSettings, time_scale: float, clock: Clock) -> None:
        self.settings = settings
        self.time_scale = time_scale
        self.clock = clock
        self._rng = random.Random(settings.seed)
        self._central: dict[str, _Stored] = {}
        self._allowance: dict[str, tuple[float, float]] = {}
        """key -> (writes the key could take at that moment, the moment), for the limit."""
        self._caches: list[dict[str, _Cached]] = [{} for _ in range(settings.edges)]

    def to_wall(self, model_seconds: float) -> float:
        """Clock seconds for a duration in model seconds."""
        return model_seconds * self.time_scale

    def to_model(self, wall_seconds: float) -> float:
        """Model seconds for a duration in clock seconds."""
        return wall_seconds / self.time_scale

    def home_edge(self, client: str) -> int:
        """The edge a client's requests go to unless rerouted.

        CRC-32 rather than ``hash()``: Python salts string hashes per process, and a client must
        land on the same edge in every run and in the tests that pick clients per edge.
        """
        return zlib.crc32(client.encode()) % self.settings.edges

    def route(self, client: str) -> Edge:
        """The edge that serves one request of ``client`` (all of that request's KV calls)."""
        index = self.home_edge(client)
        edges = self.settings.edges
        if edges > 1 and self.settings.reroute > 0 and self._rng.random() < self.settings.reroute:
            index = (index + self._rng.randrange(1, edges)) % edges
        return Edge(self, index)

    def edge(self, index: int) -> Edge:
        return Edge(self, index)

    async def latency(self, ms: float) -> None:
        """Sleep one modelled latency, with the configured relative jitter."""
        jitter = self.settings.jitter
        factor = 1.0 + self._rng.uniform(-jitter, jitter) if jitter else 1.0
        await self.clock.sleep(ms / 1000.0 * factor * self.time_scale)

    def read_central(self, key: str) -> _Stored | None:
        stored = self._central.get(key)
        if stored is not None and not _live(stored.expires, self.clock.now()):
            del self._central[key]
            return None
        return stored

    def _capacity(self) -> int | None:
        """Writes a key's bucket holds, or None when nothing is limited."""
        mode = self.settings.write_limit
        if mode == "off" or self.settings.write_interval == 0:
            return None
        return self.settings.write_burst if mode == "burst" else 1

    def write_central(self, key: str, stored: _Stored | None) -> None:
        """Apply a put (or a delete, ``None``) that arrives now, unless the key's limit refuses it.

        The limit is a token bucket per key: full (``_capacity``) for a key never written, one
        write taken by each accepted write, one given back per ``write_interval``. With a
        capacity of one (``strict``) that is exactly "no second write within the interval".
        """
        capacity = self._capacity()
        if capacity is not None:
            now = self.clock.now()
            left, since = self._allowance.get(key, (float(capacity), now))
            left = min(float(capacity),
                       left + (now - since) / self.to_wall(self.settings.write_interval))
            if left < 1.0:
                raise StoreUnavailable(TOO_MANY_WRITES)
            self._allowance[key] = (left - 1.0, now)
        if stored is None:
            self._central.pop(key, None)
        else:
            self._central[key] = stored

    def central_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in list(self._central) if key.startswith(prefix)
                      and self.read_central(key) is not None)


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge location: the KV operations a Worker running there can make."""

    model: KvModel
    index: int

    @property
    def _cache(self) -> dict[str, _Cached]:
        return self.model._caches[self.index]

    async def get(self, key: str) -> str | None:
        """The value as this edge sees it: its cached copy while fresh, else the central one."""
        model = self.model
        cached = self._cache.get(key)
        now = model.clock.now()
        if (
            cached is not None
            and now - cached.fetched_at < model.to_wall(model.settings.cache_ttl)
            and _live(cached.expires, now)
        ):
            await model.latency(model.settings.hot_read_ms)
            return cached.value
        await model.latency(model.settings.cold_read_ms)
        stored = model.read_central(key)
        if stored is None:
            self._cache[key] = _Cached(None, model.clock.now(), None)
            return None
        self._cache[key] = _Cached(stored.value, model.clock.now(), stored.expires)
        return stored.value

    async def put(self, key: str, value: str, *, expiration_ttl: float | None = None) -> None:
        """Write the whole value; ``expiration_ttl`` in model seconds, at least 60 as in KV.

        Raises :class:`StoreUnavailable` (:data:`TOO_MANY_WRITES`) when the key's write limit
        refuses it (:meth:`KvModel.write_central`).
        """
        model = self.model
        if expiration_ttl is not None and expiration_ttl < MIN_EXPIRATION_TTL:
            raise ValueError(f"Invalid expiration_ttl of {expiration_ttl}: KV's minimum is 60")
        await model.latency(model.settings.write_ms)
        now = model.clock.now()
        expires = None if expiration_ttl is None else now + model.to_wall(expiration_ttl)
        model.write_central(key, _Stored(value, expires))
        self._cache[key] = _Cached(value, now, expires)

    async def delete(self, key: str) -> None:
        """Remove the key; a delete counts as a write to it (same limit, same visibility)."""
        model = self.model
        await model.latency(model.settings.write_ms)
        model.write_central(key, None)
        self._cache[key] = _Cached(None, model.clock.now(), None)

    async def list_keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` in the central store, sorted (KV's ``list``; not edge-cached)."""
        model = self.model
        await model.latency(model.settings.cold_read_ms)
        return model.central_keys(prefix)
