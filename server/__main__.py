"""``python -m server``: read the settings, serve until SIGINT/SIGTERM, then stop cleanly.

One process (:mod:`server.serve`), or ``--workers N`` processes on one port
(:mod:`server.workers`). A bad setting, an unusable database or a busy port stops start-up with
one line on stderr and exit status 2; a traceback would bury the one fact the operator needs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from . import runtime
from .serve import STARTUP_ERRORS, print_banner, serve, startup_problem
from .settings import SettingsError, load_settings
from .workers import run_workers


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
    if settings.workers > 1:
        return run_workers(settings)
    try:
        runtime.run(serve(settings, lambda url: print_banner(settings, url)))
    except STARTUP_ERRORS as error:
        print(f"python -m server: error: {startup_problem(settings, error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
