"""The event loop every server process runs on, chosen in one place.

``python -m server``, each ``--workers`` process and the benchmark's bare app start their loop
here, so they all run on the same one: asyncio's own. uvloop was measured (benchmarks/README.md):
it takes up to 30 microseconds off a request, but libuv answers running out of descriptors by
accepting and resetting every pending connection, where asyncio leaves them queued until a
descriptor is free (docs/server-limits.md); the hardening keeps asyncio's behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOP_NAME = "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop, as :func:`asyncio.run` does."""
    return asyncio.run(main)
