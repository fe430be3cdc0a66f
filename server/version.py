"""The server's version, as rondevu's clients read it from ``GET /`` (``{"version": ...}``).

It is the installed distribution's version (``pyproject.toml``), so it changes with a release and
never with a second copy of the number. A checkout run without installing it says ``unknown``, as
rondevu's server did without its ``VERSION`` variable.
"""

from __future__ import annotations

import functools
from importlib import metadata

DISTRIBUTION = "signaling-consistency-harness"
UNKNOWN = "unknown"


@functools.cache
def server_version(distribution: str = DISTRIBUTION) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN
