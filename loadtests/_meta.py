"""``meta.json``: what ran, written by the master or the local runner, never by a worker.

It is written when the test starts (so an interrupted run still says what it was) and replaced,
atomically, when the test stops, with the measured duration. The target's own settings come from
``GET /_harness/config``; a server that does not have that route (someone else's deployment)
gets ``"server": {}`` and is named after its host.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import urllib.request
from pathlib import Path
from typing import Any

import locust

from loadtests._options import LoadOptions

log = logging.getLogger(__name__)

FORMAT = 1


def fetch_target_config(host: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The target's ``{"backend": ..., "settings": {...}}``, or None if it does not answer."""
    url = host.rstrip("/") + "/_harness/config"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            config = json.load(response)
    except (OSError, ValueError) as exc:
        log.info("%s did not give its settings (%s); meta.json will hold server: {}", url, exc)
        return None
    return config if isinstance(config, dict) else None


def default_settle_model_s(config: dict[str, Any] | None, time_scale: float) -> float:
    """2 model seconds, plus the KV edge cache's lifetime when the target is the KV model.

    The cache TTL is in the server's model seconds; it is converted to ours through both scales,
    so the wall-clock wait covers the wall-clock staleness whatever scales were chosen.
    """
    settings = (config or {}).get("settings") or {}
    if (config or {}).get("backend") != "kv":
        return 2.0
    kv = settings.get("kv") or {}
    ttl_wall = float(kv.get("cache_ttl", 60.0)) * float(settings.get("time_scale", 1.0))
    return 2.0 + ttl_wall / time_scale


def default_run_id(backend: str, now: dt.datetime) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in backend)[:40]
    return f"{now:%Y%m%dT%H%M%SZ}-{safe}"


def backend_name(options: LoadOptions, config: dict[str, Any] | None, host: str) -> str:
    return options.backend_name or str((config or {}).get("backend") or host)


def build_meta(*, options: LoadOptions, config: dict[str, Any] | None, host: str,
               scenarios: list[str], users: int | None, spawn_rate: float | None,
               duration_s: float | None, started: dt.datetime, tags: Any = None,
               stopped: dt.datetime | None = None) -> dict[str, Any]:
    """The meta.json document (``docs/history.md`` format 1, plus the scenario shape)."""
    meta: dict[str, Any] = {
        "format": FORMAT,
        "run": options.run_id,
        "backend": backend_name(options, config, host),
        "target": host,
        "hosts": list(options.hosts),
        "scenarios": scenarios,
        "users": users,
        "spawn_rate": spawn_rate,
        "duration_s": duration_s,
        "settle_s": options.settle_s,
        "time_scale": options.time_scale,
        "started": started.isoformat(),
        "server": (config or {}).get("settings") or {},
        "software": {
            "python": platform.python_version(),
            "locust": locust.__version__,
            "platform": platform.platform(),
        },
        "client": {
            "poll_interval_s": options.poll_interval_s,
            "gather_window_s": options.gather_window_s,
            "candidates": list(options.candidates),
            "answer_delay_s": list(options.answer_delay_s),
            "answerers": options.answerers,
            "connection_timeout_s": options.connection_timeout_s,
            "origin": options.origin,
            "tags": tags,
        },
    }
    if stopped is not None:
        meta["stopped"] = stopped.isoformat()
    return meta


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    log.info("wrote %s", path)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


