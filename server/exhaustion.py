"""Report running out of descriptors (or buffers, or memory) once per interval, not per attempt.

When ``accept()`` fails with EMFILE, asyncio logs the error with its traceback and pauses the
listening socket for a second, but Python 3.11's accept loop goes on trying up to the backlog
(100 times) in the same tick, logging each failure. Under a 256-descriptor limit the log grew
by 23 MB in 20 s, while the server could serve no one. This loop exception handler keeps one
line per :data:`INTERVAL_S`, with how many failures it stands for, and hands every other error to
asyncio's default handler unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_S = 10.0
"""At most one report of resource exhaustion per this many seconds."""

EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class ExhaustionLog:
    """A loop exception handler (``loop.set_exception_handler``) that rate-limits exhaustion."""

    def __init__(self, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._unreported = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in EXHAUSTED):
            loop.default_exception_handler(context)
            return
        self._unreported += 1
        now = self._clock()
        if self._last is not None and now - self._last < self._interval_s:
            return
        log.error(
            "%s: %s (%s), %d time(s) since the last report; new connections wait until "
            "descriptors are free (stalled ones close after --read-timeout); next report in "
            "%g s at the earliest",
            context.get("message", "out of system resources"), os.strerror(error.errno),
            errno.errorcode[error.errno], self._unreported, self._interval_s,
        )
        self._last, self._unreported = now, 0
