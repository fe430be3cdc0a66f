"""Shared fixtures. Locust's in-process tests (``tests/locust_env``) are collected only in their
own pytest process (see ``tests/test_locust_env.py``): importing Locust gevent-patches the
interpreter, which must never happen in the asyncio tests' process."""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("HARNESS_LOCUST_ENV") else ["locust_env"]
