"""The application factory: settings in, a ready ``web.Application`` out.

Tests build apps with their own settings (a ``tmp_path`` database); ``python -m server`` builds
one from the command line. Resources are opened and closed in ``cleanup_ctx`` generators, so a
failed start-up and a clean stop release them the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from . import middleware
from .appkeys import CLOCK, SETTINGS, STORE
from .handlers import HARNESS_CONFIG, routes
from .settings import Settings
from .stores import open_store
from .stores.base import Clock, SystemClock
from .sweeper import sweeper_ctx


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    app[STORE] = await open_store(app[SETTINGS], app[CLOCK])
    yield
    await app[STORE].close()


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body,
        # aiohttp's keep-alive timer also runs from the moment a connection opens, so it is what
        # closes a client that never finishes its headers; lingering (draining a body left
        # unread after the answer) gets the same bound. The body itself: payloads.json_object.
        handler_args={
            "keepalive_timeout": settings.read_timeout,
            "lingering_time": settings.read_timeout,
        },
        middlewares=[
            middleware.middleware(
                middleware.Cors(settings.cors_origins, private=frozenset({HARNESS_CONFIG}))),
        ],
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(sweeper_ctx)
    app.add_routes(routes)
    return app
