"""Typed keys for what the application holds, shared by the factory and the handlers."""

from __future__ import annotations

from aiohttp import web

from .settings import Settings
from .stores.base import Clock, Store

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
