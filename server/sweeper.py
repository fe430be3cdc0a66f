"""The background task that deletes expired sessions.

Expired sessions are already invisible (every query filters on ``expires_at``), so the sweeper
only reclaims space; it runs off the request path and a failed sweep is logged and retried at
the next interval rather than taking the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .appkeys import SETTINGS, STORE
from .stores.base import StoreError

log = logging.getLogger(__name__)


async def sweep_forever(app: web.Application) -> None:
    interval = app[SETTINGS].sweep_interval
    while True:
        await asyncio.sleep(interval)
        try:
            deleted = await app[STORE].sweep_expired()
        except StoreError as refused:  # the store says why (its database file is gone)
            log.warning("sweeping expired sessions refused: %s; retrying in %s s", refused,
                        interval)
            continue
        except Exception:
            log.exception("sweeping expired sessions failed; retrying in %s s", interval)
            continue
        if deleted:
            log.info("swept %d expired sessions", deleted)


async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(sweep_forever(app), name="sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
