"""``python -m server``: read the settings, serve until SIGINT/SIGTERM, then stop cleanly.

A bad setting, an unusable database or a busy port stops start-up with one line on stderr and
exit status 2; a traceback would bury the one fact the operator needs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import create_app
from .banner import listening_line, settings_line
from .exhaustion import ExhaustionLog
from .migrate import MigrationError
from .settings import Settings, SettingsError, load_settings
from .stores.sqlite import StartupError

log = logging.getLogger("server")

SHUTDOWN_TIMEOUT_S = 10.0


async def serve(settings: Settings) -> None:
    """Run until a stop signal; in-flight requests get ``SHUTDOWN_TIMEOUT_S`` to finish."""
    runner = web.AppRunner(
        create_app(settings), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    asyncio.get_running_loop().set_exception_handler(ExhaustionLog())
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        host, port = runner.addresses[0][:2]
        where = settings.db.resolve() if settings.backend != "kv" else "in memory"
        print(listening_line(f"http://{host}:{port}", settings.backend, str(where)), flush=True)
        print(settings_line(settings.as_dict()), flush=True)
        await stop.wait()
        log.info("stopping: finishing requests in flight, then closing the database")
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except SettingsError as error:
        print(f"python -m server: error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(settings))
    except (StartupError, MigrationError) as error:
        print(f"python -m server: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"python -m server: error: cannot listen on {settings.host}:{settings.port}: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
