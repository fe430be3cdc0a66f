"""Notice when the database file the server opened is no longer the one at its path.

SQLite keeps writing to the file it opened. If that file is deleted, or another file is moved
to its path, every later write still succeeds and answers 200. But it goes into a file nobody
will open again, and is lost at the next start (and reads of a deleted file fail with "disk I/O
error"). So the store remembers the device and inode of the file it opened, and checks them
before each read, before each group of writes is committed (on the writer's thread) and on
every ``/health``: the store then refuses requests with 503.

A file overwritten in place (same inode) is not detected: that is corruption, not replacement.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from .base import StorageLost

log = logging.getLogger(__name__)


def _identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


class DatabaseFile:
    """The file a store opened at ``path``; the log says once when it stops being there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened = _identity(path)
        self._reported = False
        self._report_lock = threading.Lock()  # the sqlite writer checks on its own thread

    def problem(self) -> str | None:
        """What is wrong with the file at the path, for a client (no local path), or None."""
        try:
            found = _identity(self.path)
        except FileNotFoundError:
            problem = "the database file was deleted while the server was running"
        except OSError as error:
            problem = f"the database file cannot be checked ({error.strerror})"
        else:
            if found == self._opened:
                return None
            problem = "the database file was replaced by another file while the server was running"
        with self._report_lock:
            if self._reported:
                return problem
            self._reported = True
            log.error(
                "%s: %s (it opened device %d inode %d); requests are refused with 503 and "
                "/health answers 503 until the server is restarted",
                self.path, problem, *self._opened,
            )
        return problem

    def check(self) -> None:
        """Raise :class:`StorageLost` unless the opened file is still at the path."""
        problem = self.problem()
        if problem is not None:
            raise StorageLost(f"{problem}; requests are refused until the server is restarted")
