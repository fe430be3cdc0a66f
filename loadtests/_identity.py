"""Who wrote a history line: the machine, the process, the logical client.

``host`` is the machine's name and boot id, so monotonic clocks are compared only where they are
comparable (same host, same boot). ``client`` is ``<hostname>/<pid>/<user>/<role>``: the pid is
read at call time because ``locust --processes`` forks after the locustfiles are imported.
"""

from __future__ import annotations

import functools
import os
import socket
import zlib
from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@functools.cache
def hostname() -> str:
    return socket.gethostname() or "localhost"


@functools.cache
def boot_id() -> str:
    """The kernel's boot id, or ``unknown`` where there is none (then only pid order is safe)."""
    try:
        return BOOT_ID_PATH.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def host_id() -> str:
    return f"{hostname()}:{boot_id()}"


def client_name(user: int, role: str) -> str:
    return f"{hostname()}/{os.getpid()}/{user}/{role}"


def history_file_name() -> str:
    return f"{hostname()}-{os.getpid()}.jsonl"


def host_digits(width: int) -> str:
    """A stable number for this host (and boot), to keep tokens apart across machines."""
    return str(zlib.crc32(host_id().encode()) % 10**width).zfill(width)
