"""The JSON codec of every request body and response, in one place.

The handlers, the error middleware, the store's candidate lists and the benchmark's bare app all
encode and decode through here, so what the server accepts and sends is decided once, and the
benchmark's ceiling runs on the same codec as the server it is compared with.

orjson does the work: it decodes a request body and encodes a response in a tenth of the time
of the standard library's ``json`` (1.5 to 2.5 microseconds less for each, benchmarks/README.md),
which is 4 to 5 % of what the server spends on a poll. What the server
accepts stays what ``json`` accepts: a document orjson refuses is decoded again by ``json``,
whose result or error then stands. So lone surrogates (``\\ud800``), ``NaN``, byte order marks
and UTF-16 bodies get the answers they got before, and every error message is ``json``'s. Two
differences remain, in bodies no client sends: an integer beyond 64 bits decodes as a float
(a field that must be a string is still refused, as "not float"), and a value nested between
about 990 and 1024 levels deep is decoded rather than refused as nested too deeply.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

CODEC_NAME = f"orjson {orjson.__version__}"


def loads(raw: bytes | str) -> Any:
    """The value of a JSON document; raises ``ValueError`` (or ``RecursionError``) as
    :func:`json.loads` does."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(value: Any) -> bytes:
    """``value`` as JSON, UTF-8 encoded. Text the store accepts is always valid Unicode; a
    lone surrogate elsewhere (say, in an error message) is escaped by ``json`` instead."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def json_response(value: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=dumps(value), status=status, content_type="application/json",
                        charset="utf-8")
