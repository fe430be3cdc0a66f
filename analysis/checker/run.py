"""``check_run``: every rule over every session of one loaded run. Pure: no printing.

Records are grouped per session once (one pass), and each session is checked on its own, so the
cost grows with the history, not with its square; what a rule needs per session is freed before
the next session.
"""

from __future__ import annotations

import logging
from typing import Any

from analysis.checker.clients import check_cross_object, check_monotonic_writes
from analysis.checker.context import Context
from analysis.checker.evidence import DEFAULT_MIN_VERIFIED
from analysis.checker.explain import Clock
from analysis.checker.faults import check_durability, faults_json, kills_by_host
from analysis.checker.lag import summarize
from analysis.checker.model import LIST, SessionHistory, split_session
from analysis.checker.order import check_order
from analysis.checker.result import Findings, RunResult
from analysis.checker.sessions import (
    check_conflicting_answers,
    check_lost_session,
    is_verifiable,
)
from analysis.checker.values import check_offer, check_values
from analysis.checker.visibility import check_visibility
from analysis.history import LoadedRun, gc_paused

log = logging.getLogger(__name__)


def check_run(run: LoadedRun, min_verified: float = DEFAULT_MIN_VERIFIED) -> RunResult:
    """Check one run against every rule of docs/checker.md and return what was found.

    ``min_verified`` is the share of sessions with an acknowledged write that must be verified
    after settling for the run to be called consistent (``analysis.checker.evidence``).
    """
    records = run.records
    result = RunResult(name=run.name, path=str(run.path), backend=run.backend, meta=run.meta,
                       operations=len(records),
                       server_errors=sum(1 for r in records if (r.get("status") or 0) >= 500),
                       min_verified=min_verified, notes=list(run.warnings))
    coverage = result.coverage
    for record in records:
        coverage.count(record)
    ctx = Context(
        records=records,
        clock=Clock(records),
        findings=Findings(result, lambda index: record_with_origin(run, index)),
        session_ttl_ns=session_ttl_ns(run.meta, result.notes),
        kills=kills_by_host(run.faults),
    )
    result.faults = faults_json(run.faults, ctx.clock)
    result.durability.kills = sum(len(kills) for kills in ctx.kills.values())
    where = lambda index: "%s:%d" % run.origin(index)  # noqa: E731
    with gc_paused():
        for code, indices in group_by_session(records).items():
            session = split_session(code, indices, records, where)
            if not session.exists:
                continue
            result.sessions += 1
            verifiable = check_session(session, ctx)
            if not verifiable:
                result.unverifiable += 1
            if acknowledged_write(session, records):
                coverage.written += 1
                coverage.verified += verifiable
                coverage.left += not verifiable and bool(session.leaves)
    result.lag_ms = summarize(ctx.lags_ns)
    log.debug("%s: %d operations, %d sessions, %d anomalies", run.path, result.operations,
              result.sessions, result.anomaly_count)
    return result


def check_session(session: SessionHistory, ctx: Context) -> bool:
    """Apply every per-session rule; return whether lost writes could be decided."""
    verifiable = True
    for obj in session.objects():
        obj_verifiable = is_verifiable(session, obj)
        verifiable = verifiable and obj_verifiable
        check_values(session, obj, ctx)
        if obj.kind == LIST:
            check_order(session, obj, ctx)
            check_monotonic_writes(session, obj, ctx)
        check_visibility(session, obj, obj_verifiable, ctx)
    check_offer(session, ctx)
    check_cross_object(session, ctx)
    check_conflicting_answers(session, ctx)
    check_lost_session(session, ctx)
    check_durability(session, ctx)
    return verifiable


def acknowledged_write(session: SessionHistory, records: list[dict[str, Any]]) -> bool:
    """Whether a create, an answer or a candidate of ``session`` was acknowledged: the sessions
    whose verification the verdict counts."""
    writes = [*session.creates, *session.answer.writes,
              *(index for side in session.lists.values() for index in side.writes)]
    return any(records[index]["type"] == "ok" for index in writes)


def group_by_session(records: list[dict[str, Any]]) -> dict[Any, list[int]]:
    """Record indices per session code, in history order; records without a session skipped."""
    groups: dict[Any, list[int]] = {}
    for index, record in enumerate(records):
        code = record.get("session")
        if code is None:
            continue
        group = groups.get(code)
        if group is None:
            groups[code] = [index]
        else:
            group.append(index)
    return groups


def session_ttl_ns(meta: dict[str, Any], notes: list[str]) -> int | None:
    """A session's wall-clock lifetime under the run's server settings.

    ``session_ttl`` is wall-clock milliseconds on every backend: the server applies
    ``time_scale`` to the KV model's own durations only (``server/settings.py``), so a 404 sooner
    than this after the create is before expiry.
    """
    server = meta.get("server") or {}
    ttl = server.get("session_ttl")
    if not isinstance(ttl, (int, float)) or ttl <= 0:
        notes.append("lost-session not decided: meta.json gives no server.session_ttl")
        return None
    return int(ttl * 1_000_000)


def record_with_origin(run: LoadedRun, index: int) -> dict[str, Any]:
    """A proving record as JSON: the history line plus its ``file`` and ``line``."""
    file, line = run.origin(index)
    return {**run.records[index], "file": file, "line": line}
