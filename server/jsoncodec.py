"""The JSON codec of every request body and response, in one place.

The handlers, the error middleware and the benchmark's bare app all encode and decode through
here, so what the server accepts and sends is decided once, and the benchmark's ceiling runs on
the same codec as the server it is compared with.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

CODEC_NAME = "json (standard library)"


def loads(raw: bytes) -> Any:
    """The value of a JSON document; raises ``ValueError`` (or ``RecursionError``) as
    :func:`json.loads` does."""
    return json.loads(raw)


def dumps(value: Any) -> bytes:
    """``value`` as JSON, UTF-8 encoded."""
    return json.dumps(value).encode()


def json_response(value: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=dumps(value), status=status, content_type="application/json",
                        charset="utf-8")
