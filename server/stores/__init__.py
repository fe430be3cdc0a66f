"""Storage backends behind one protocol, chosen by the ``--backend`` setting.

Each backend module exposes ``async def open_store(settings, clock) -> Store``; this registry is
the only place that knows their names, so adding a backend touches one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import Clock, Store, StoreLimits

if TYPE_CHECKING:
    from ..settings import Settings

BACKEND_MODULES = {
    "sqlite": "server.stores.sqlite",
    "rmw": "server.stores.rmw",
    "kv": "server.stores.kv",
}


def limits_of(settings: Settings) -> StoreLimits:
    return StoreLimits(session_ttl_ms=settings.session_ttl, max_candidates=settings.max_candidates)


async def open_store(settings: Settings, clock: Clock) -> Store:
    """Open the backend named by ``settings.backend`` (imported only when chosen)."""
    module = importlib.import_module(BACKEND_MODULES[settings.backend])
    return await module.open_store(settings, clock)
