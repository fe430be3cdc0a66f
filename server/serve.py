"""One server process: open the app, listen, say so, serve until SIGINT/SIGTERM, stop cleanly.

``python -m server`` runs this in its own process, or ``--workers N`` runs it in N processes
that share the port (:mod:`server.workers`); ``ready`` is what each does once it listens (the
single server prints the banner, a worker tells its parent). What a failed start-up prints is
decided here too, so one process and many say the same thing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from .app import create_app
from .banner import listening_line, settings_line
from .exhaustion import ExhaustionLog
from .migrate import MigrationError
from .settings import Settings, redact_dsn
from .stores import BACKENDS, POSTGRES, SQLITE
from .stores.base import StartupError

log = logging.getLogger("server")

SHUTDOWN_TIMEOUT_S = 10.0
STARTUP_ERRORS = (StartupError, MigrationError, OSError)


async def serve(settings: Settings, ready: Callable[[str], None], *,
                reuse_port: bool = False) -> None:
    """Run until a stop signal; in-flight requests get ``SHUTDOWN_TIMEOUT_S`` to finish."""
    runner = web.AppRunner(
        create_app(settings), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    asyncio.get_running_loop().set_exception_handler(ExhaustionLog())
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        host, port = runner.addresses[0][:2]
        ready(f"http://{host}:{port}")
        await stop.wait()
        log.info("stopping: finishing requests in flight, then closing the database")
    finally:
        await runner.cleanup()


def database_shown(settings: Settings) -> str:
    """Where the sessions are, as the banner says it: a DSN's password is hidden."""
    database = BACKENDS[settings.backend].database
    if database == SQLITE:
        return str(settings.db.resolve())
    if database == POSTGRES:
        return redact_dsn(settings.dsn)
    return "in memory"


def print_banner(settings: Settings, url: str) -> None:
    """The two lines whoever started the server reads (``server.banner``), printed once."""
    print(listening_line(url, settings.backend, database_shown(settings)), flush=True)
    print(settings_line(settings.as_dict()), flush=True)


def startup_problem(settings: Settings, error: BaseException) -> str:
    """The one line a failed start-up prints (after ``python -m server: error: ``)."""
    if isinstance(error, (StartupError, MigrationError)):
        return str(error)
    assert isinstance(error, OSError)
    return (f"cannot listen on {settings.host}:{settings.port}: "
            f"{error.strerror or error}")
