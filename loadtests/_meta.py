"""``meta.json``: what ran, written by the master or the local runner, never by a worker.

It is written when the test starts (so an interrupted run still says what it was) and replaced,
atomically, when the test stops, with the measured duration, and again once the local runner's
final reads are written, with how they settled (``settling``) and the operations the target has
no route for (``unsupported``). The target's own settings come from ``GET /_harness/config``; a
server that does not have that route (someone else's deployment) gets ``"server": {}`` (plus
``session_ttl`` when ``--session-ttl`` gives it) and is named after its host.
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

FORMAT = 2
UNKNOWN_LAG_BOUND_MODEL_S = 30.0
"""The default bound on settling for a target that does not report its settings."""


def fetch_target_config(host: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The target's ``{"backend": ..., "settings": {...}}``, or None if it does not answer.

    Bounded tightly: Locust's ``--run-time`` clock already runs while the test starts, so a
    target that stalls must not use up a short run before any user is spawned.
    """
    url = host.rstrip("/") + "/_harness/config"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            config = json.load(response)
    except (OSError, ValueError) as exc:
        log.info("%s did not give its settings (%s); meta.json will hold server: {}", url, exc)
        return None
    return config if isinstance(config, dict) else None


def default_settle_mode(config: dict[str, Any] | None) -> str:
    """``fixed`` when the target reported its settings (its lag is known), else
    ``until-agreed`` (``_final_reads``)."""
    return "fixed" if config else "until-agreed"


def default_settle_model_s(config: dict[str, Any] | None, time_scale: float) -> float:
    """2 model seconds, plus the KV edge cache's lifetime when the target is the KV model; for a
    target that reports nothing, the bound on settling rounds (:data:`UNKNOWN_LAG_BOUND_MODEL_S`).

    The cache TTL is in the server's model seconds; it is converted to ours through both scales,
    so the wall-clock wait covers the wall-clock staleness whatever scales were chosen.
    """
    if not config:
        return UNKNOWN_LAG_BOUND_MODEL_S
    settings = config.get("settings") or {}
    if config.get("backend") != "kv":
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
               stopped: dt.datetime | None = None, settling: dict[str, Any] | None = None,
               unsupported: dict[str, str] | None = None) -> dict[str, Any]:
    """The meta.json document (``docs/history.md`` format 2, plus the scenario shape)."""
    server = dict((config or {}).get("settings") or {})
    if options.session_ttl_ms is not None and "session_ttl" not in server:
        server["session_ttl"] = options.session_ttl_ms
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
        "settle_mode": options.settle_mode,
        "time_scale": options.time_scale,
        "started": started.isoformat(),
        "server": server,
        "software": {
            "python": platform.python_version(),
            "locust": locust.__version__,
            "platform": platform.platform(),
        },
        "client": {
            "poll_interval_s": options.poll_interval_s,
            "candidates": {kind: list(span) for kind, span in options.candidates.items()},
            "trickle": options.trickle,
            "answerers": options.answerers,
            "connection_timeout_s": options.connection_timeout_s,
            "pacing_s": options.pacing_s,
            "origin": options.origin,
            "tags": tags,
        },
    }
    if stopped is not None:
        meta["stopped"] = stopped.isoformat()
    if settling:
        meta["settling"] = settling
    if unsupported:
        meta["unsupported"] = dict(unsupported)
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


