"""The lines ``python -m server`` prints once it listens, written and read in one place.

Whoever starts the server as a child process (the comparison, the benchmarks, the tests) learns
its address and settings from these two lines, so their text is defined here only: the server
prints them with :func:`listening_line` and :func:`settings_line`, and
:class:`server.process.ServerProcess` reads them back with :func:`parse_url` and
:func:`parse_settings`.
"""

from __future__ import annotations

import json
import re
from typing import Any

LISTENING = "listening on "
SETTINGS = "settings: "
_URL = re.compile(re.escape(LISTENING) + r"(http://\S+)")


def listening_line(url: str, backend: str, database: str) -> str:
    """``listening on http://127.0.0.1:8080 (backend sqlite, database /tmp/s.db)``."""
    return f"{LISTENING}{url} (backend {backend}, database {database})"


def settings_line(settings: dict[str, Any]) -> str:
    return SETTINGS + json.dumps(settings)


def parse_url(line: str) -> str | None:
    """The URL of a :func:`listening_line`, or None for any other line."""
    found = _URL.search(line)
    return found[1] if found else None


def parse_settings(line: str) -> dict[str, Any] | None:
    """The settings of a :func:`settings_line`, or None for any other line."""
    if not line.startswith(SETTINGS):
        return None
    settings = json.loads(line[len(SETTINGS):])
    return settings if isinstance(settings, dict) else None
