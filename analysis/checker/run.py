"""``check_run``: every rule over every session of one loaded run. Pure: no printing.

Records are grouped per session once (one pass), and each session is checked on its own, so the
cost grows with the history, not with its square; what a rule needs per session is freed before
the next session.

Because sessions are independent, a large history can be checked on several cores
(``jobs``): the sessions, in the order the serial check takes them, are cut into consecutive
chunks, forked worker processes check the chunks (they inherit the loaded records, nothing is
sent to them), and the parts are merged in chunk order, so counts, proving examples and lags are
exactly what the serial check finds.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from analysis.checker.clients import check_cross_object, check_monotonic_writes
from analysis.checker.context import Context
from analysis.checker.evidence import DEFAULT_MIN_VERIFIED
from analysis.checker.explain import Clock
from analysis.checker.faults import check_durability, faults_json, kills_by_host
from analysis.checker.lag import summarize
from analysis.checker.model import LIST, SessionHistory, split_session
from analysis.checker.order import check_order
from analysis.checker.result import EXAMPLES_KEPT, Findings, RunResult
from analysis.checker.sessions import (
    check_conflicting_answers,
    check_lost_session,
    is_verifiable,
)
from analysis.checker.values import check_offer, check_values
from analysis.checker.visibility import check_visibility
from analysis.history import LoadedRun, Record, gc_paused

log = logging.getLogger(__name__)

CHUNKS_PER_JOB = 4
"""Chunks per worker process, so one slow chunk does not leave the other cores idle."""
MIN_SESSIONS_PER_CHUNK = 200
"""Below this, forking costs more than it saves."""


@dataclass
class _Part:
    """What checking some sessions found (a whole :class:`RunResult` carries the run)."""

    result: RunResult
    lags_ns: list[int] = field(default_factory=list)


_forked: tuple[LoadedRun, list[tuple[Any, list[int]]], int | None] | None = None
"""The run a forked worker checks, set in the parent just before the pool forks."""


def check_run(run: LoadedRun, min_verified: float = DEFAULT_MIN_VERIFIED, jobs: int = 1
              ) -> RunResult:
    """Check one run against every rule of docs/checker.md and return what was found, using up
    to ``jobs`` processes (the result is the same for any number).

    ``min_verified`` is the share of sessions with an acknowledged write that must be verified
    after settling for the run to be called consistent (``analysis.checker.evidence``).
    """
    records = run.records
    result = RunResult(name=run.name, path=str(run.path), backend=run.backend, meta=run.meta,
                       operations=len(records),
                       server_errors=sum(1 for r in records if (r.status or 0) >= 500),
                       min_verified=min_verified, notes=list(run.warnings))
    coverage = result.coverage
    for record in records:
        coverage.count(record)
    ttl_ns = session_ttl_ns(run.meta, result.notes)
    with gc_paused():  # grouping a million records makes no cycles: no collector walks
        groups = list(group_by_session(records).items())
        chunks = _chunks(len(groups), jobs)
        if len(chunks) > 1:
            parts = _check_in_parallel(run, groups, ttl_ns, chunks, jobs)
        else:
            parts = [_check_groups(run, groups, ttl_ns)]
        lags: list[int] = []
        for part in parts:
            _merge(result, part.result)
            lags += part.lags_ns
    result.lag_ms = summarize(lags)
    result.faults = faults_json(run.faults, Clock(records))
    result.durability.kills = sum(len(kills) for kills in kills_by_host(run.faults).values())
    log.debug("%s: %d operations, %d sessions, %d anomalies (%d chunks)", run.path,
              result.operations, result.sessions, result.anomaly_count, len(chunks))
    return result


def _check_groups(run: LoadedRun, groups: list[tuple[Any, list[int]]],
                  ttl_ns: int | None) -> _Part:
    records = run.records
    part = _Part(RunResult(name=run.name, path=str(run.path), backend=run.backend, meta={}))
    coverage = part.result.coverage
    ctx = Context(
        records=records,
        clock=Clock(records),
        findings=Findings(part.result, lambda index: record_with_origin(run, index)),
        session_ttl_ns=ttl_ns,
        lags_ns=part.lags_ns,
        kills=kills_by_host(run.faults),
    )
    where = lambda index: "%s:%d" % run.origin(index)  # noqa: E731
    with gc_paused():  # in a forked worker too
        for code, indices in groups:
            session = split_session(code, indices, records, where)
            if not session.exists:
                continue
            part.result.sessions += 1
            verifiable = check_session(session, ctx)
            if not verifiable:
                part.result.unverifiable += 1
            if acknowledged_write(session, records):
                coverage.written += 1
                coverage.verified += verifiable
                coverage.left += not verifiable and bool(session.leaves)
    return part


def _chunks(sessions: int, jobs: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, stop)`` ranges of the session list: one unless ``jobs`` > 1 and
    there are sessions enough to share."""
    count = min(jobs * CHUNKS_PER_JOB, sessions // MIN_SESSIONS_PER_CHUNK) if jobs > 1 else 1
    count = max(count, 1)
    bounds = [sessions * n // count for n in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


def _check_in_parallel(run: LoadedRun, groups: list[tuple[Any, list[int]]],
                       ttl_ns: int | None, chunks: list[tuple[int, int]], jobs: int
                       ) -> list[_Part]:
    global _forked
    _forked = (run, groups, ttl_ns)
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_check_chunk, chunks))
    finally:
        _forked = None


def _check_chunk(chunk: tuple[int, int]) -> _Part:
    """In a forked worker: check one chunk of the run the parent set in :data:`_forked`."""
    assert _forked is not None, "a chunk is checked only in a worker forked by check_run"
    run, groups, ttl_ns = _forked
    start, stop = chunk
    return _check_groups(run, groups[start:stop], ttl_ns)


def _merge(result: RunResult, part: RunResult) -> None:
    """Add a part's findings to ``result`` as if its sessions had been checked right after
    those already in it: counts add up, the first examples (of each cause) stay the first."""
    result.sessions += part.sessions
    result.unverifiable += part.unverifiable
    result.coverage.written += part.coverage.written
    result.coverage.verified += part.coverage.verified
    result.coverage.left += part.coverage.left
    durability = result.durability
    durability.acknowledged_before += part.durability.acknowledged_before
    durability.lost_across += part.durability.lost_across
    durability.examples += part.durability.examples[:EXAMPLES_KEPT - len(durability.examples)]
    for kind, tally in part.tallies.items():
        into = result.tallies[kind]
        into.count += tally.count
        into.sessions |= tally.sessions
        for cause, n in tally.by_cause.items():
            into.by_cause[cause] += n
        for eraser, n in tally.erased_by.items():
            into.erased_by[eraser] += n
        for example in tally.examples:
            if into.kept(example.get("cause")) < EXAMPLES_KEPT:
                into.examples.append(example)


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


def acknowledged_write(session: SessionHistory, records: list[Record]) -> bool:
    """Whether a create, an answer or a candidate of ``session`` was acknowledged: the sessions
    whose verification the verdict counts."""
    writes = [*session.creates, *session.answer.writes,
              *(index for side in session.lists.values() for index in side.writes)]
    return any(records[index].type == "ok" for index in writes)


def group_by_session(records: list[Record]) -> dict[Any, list[int]]:
    """Record indices per session code, in history order; records without a session skipped."""
    groups: dict[Any, list[int]] = {}
    for index, record in enumerate(records):
        code = record.session
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
    """A proving record as JSON: the history line as written, plus its ``file`` and ``line``."""
    file, line = run.origin(index)
    return {**run.line_json(index), "file": file, "line": line}
