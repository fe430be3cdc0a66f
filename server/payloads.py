"""Turning request bodies and query strings into checked values, or a 400 that names the field.

Every check happens before the store is called, so bad input never reaches storage.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError

from . import jsoncodec
from .appkeys import SETTINGS
from .stores.base import Side

MAX_NAME = 1024  # topic and peerId, as rondevu limited them
MAX_CODE = 256
MAX_CANDIDATE = 8192
MAX_PAGE_LIMIT = 1000
LISTING_LIMIT = 50  # sessions per GET /{topic}/sessions unless ?limit says otherwise ...
MAX_LISTING_LIMIT = 200  # ... and at most this many: rondevu's later /offers/by-topic bounds
MAX_PAGE = 1_000_000  # keeps the SQL OFFSET inside 64 bits


_DIGITS = re.compile("[0-9]+")


class BadRequest(ValueError):
    """Input the API refuses (400); the message names the field."""

    status = 400
    close_connection = False


class UnreadableBody(BadRequest):
    """A body that cannot be read to its end. The connection is closed after the answer: what
    is left of the body cannot be skipped to reach the next request."""

    close_connection = True


class BodyTimeout(UnreadableBody):
    """A body not received within ``--read-timeout`` (408)."""

    status = 408


def _end_body(request: web.Request) -> None:
    """Stop reading a body that will not be read to its end, before answering.

    aiohttp drains an unread body after the answer: it would meet a decoding error again and
    log it as unhandled, or wait on a stalled client. Reading from the connection is paused
    first, so no more bytes arrive for the body marked complete; the answer then closes the
    connection (:class:`UnreadableBody`).
    """
    request.content.feed_eof()
    if request.transport is not None:
        request.transport.pause_reading()


async def json_object(request: web.Request) -> Mapping[str, Any]:
    """The body as a JSON object. A body over ``client_max_size`` raises aiohttp's 413; one
    not received within ``--read-timeout`` is a 408."""
    timeout = request.app[SETTINGS].read_timeout
    try:
        if request.content.is_eof():  # all of it has arrived: there is nothing to wait for
            raw = await request.read()
        else:
            async with asyncio.timeout(timeout):
                raw = await request.read()
    except TimeoutError:
        _end_body(request)
        raise BodyTimeout(f"request body not received within {timeout:g} s") from None
    except web.RequestPayloadError as error:
        # aiohttp decompresses as the body is read; bytes that are not what Content-Encoding
        # names are the client's error (400), not the server's (it was a 500 and a traceback).
        _end_body(request)
        if isinstance(error.__cause__, ContentEncodingError):
            encoding = request.headers.get("Content-Encoding", "").strip().lower()
            raise UnreadableBody(
                f"body is not valid {encoding}, as its Content-Encoding header says"
            ) from None
        raise UnreadableBody(f"body could not be read: {error}") from None
    try:
        body = jsoncodec.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest(f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest("body is not valid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def text_field(
    body: Mapping[str, Any], name: str, *, max_len: int | None = None, required: bool = True
) -> str | None:
    """A string field: present (if required), a string, non-empty and not over ``max_len``."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"missing field: {name}")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"field {name} must be a string, not {type(value).__name__}")
    if not value:
        raise BadRequest(f"field {name} must not be empty")
    if max_len is not None and len(value) > max_len:
        raise BadRequest(f"field {name} is longer than {max_len} characters")
    if not is_unicode(value):
        raise BadRequest(f"field {name} is not valid Unicode (it holds a lone surrogate)")
    _refuse_nul(value, f"field {name}")
    return value


def _refuse_nul(text: str, what: str) -> None:
    """PostgreSQL's text cannot hold U+0000, so no store takes it: a request means the same on
    every backend."""
    if "\x00" in text:
        raise BadRequest(f"{what} holds a NUL character (U+0000), which cannot be stored")


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be stored: JSON's ``\\ud800`` escapes and surrogate-escaped header
    bytes decode to strings that no UTF-8 database or response can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def header(request: web.Request, name: str) -> str | None:
    """A request header, or a 400 naming it when its bytes are not UTF-8."""
    value = request.headers.get(name)
    if value is not None and not is_unicode(value):
        raise BadRequest(f"header {name} is not valid UTF-8")
    return value


def side_field(body: Mapping[str, Any]) -> Side:
    side = text_field(body, "side")
    try:
        return Side(side)
    except ValueError:
        raise BadRequest("field side must be 'offerer' or 'answerer'") from None


def path_name(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if len(value) > MAX_NAME:
        raise BadRequest(f"{name} is longer than {MAX_NAME} characters")
    _refuse_nul(value, name)
    return value


@dataclass(frozen=True)
class Paging:
    page: int
    limit: int


def paging(query: Mapping[str, str]) -> Paging:
    return Paging(
        page=_query_int(query, "page", default=1, low=1, high=MAX_PAGE),
        limit=_query_int(query, "limit", default=100, low=1, high=MAX_PAGE_LIMIT),
    )


def listing_limit(query: Mapping[str, str]) -> int:
    """How many sessions a topic listing may show (``?limit``)."""
    return _query_int(query, "limit", default=LISTING_LIMIT, low=1, high=MAX_LISTING_LIMIT)


def _query_int(
    query: Mapping[str, str], name: str, *, default: int, low: int, high: int
) -> int:
    """ASCII digits only: ``int()`` alone also takes ``1_0``, ``+5``, `` 5``, ``5\n`` and other
    scripts' digits (``١``), so two spellings of one request would mean the same page."""
    text = query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text):
        raise BadRequest(
            f"query parameter {name} must be an integer in ASCII digits (0-9), not {text!r}"
        )
    if len(text.lstrip("0")) > len(str(high)) or not low <= int(text) <= high:
        raise BadRequest(f"query parameter {name} must be between {low} and {high}")
    return int(text)
