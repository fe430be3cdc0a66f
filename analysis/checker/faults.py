"""The faults a nemesis injected, and the durability rule: writes acknowledged before a kill of
the server and missing after it.

A kill is a crash: the server gets SIGKILL and is started again on the same database
(``comparison.nemesis``). A store that acknowledges a write only once it is durable keeps every
such write; one that acknowledges first (the KV model keeps its data in memory) loses them. The
rule, per acknowledged ``create``, ``answer`` and ``candidate`` and per kill that started, on the
write's host, after the write was acknowledged:

- the write's *reads* are the operations that show whether it is there: for a candidate the
  polls of its list, for an answer the offerer's polls (``analysis.checker.model``), for a
  create any operation on its session that succeeded; and for all three, an operation on the
  session answered 404 while the session cannot have expired (its lifetime from the create's
  invocation) and no leave of it had been sent (so it should have been there);
- only reads on the write's host count, and only those that began after the kill ended (the
  server answered ``/health`` again) count as *after* it;
- when the last read that completed before the kill already lacked the write, its loss is not
  put on the kill (a stale copy in a store with lag, or a loss of another kind);
- the write is *lost across* the kill when at least one read after the kill exists and every
  one of them lacks it: a read that held it again would make it late, not lost. A write that
  survived one kill is held against the next;
- ``acknowledged_before`` counts each write once that had a kill after it and a read after that
  kill (the writes the rule could decide), ``lost_across`` each write once that was lost.

Times of faults, as in every explanation, are seconds since the host's first operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.explain import Clock
from analysis.checker.model import ObjectHistory, SessionHistory
from analysis.history import KILL, Record


@dataclass(frozen=True)
class Kill:
    """One kill on one host: from the SIGKILL to the restarted server answering."""

    start: int
    end: int
    fault: dict[str, Any]
    """Its history record, with ``file`` and ``line``."""


def faults_json(faults: list[dict[str, Any]], clock: Clock) -> list[dict[str, Any]]:
    """Every fault as ``{kind, start, end, file, line}``, times in seconds since its host's
    first operation."""
    return [{"kind": fault["kind"], "start": round(clock.seconds(fault["host"], fault["t0"]), 3),
             "end": round(clock.seconds(fault["host"], fault["t1"]), 3),
             "file": fault["file"], "line": fault["line"]} for fault in faults]


def faults_words(faults: list[dict[str, Any]]) -> str:
    """``2 kills (at 3.0-3.4 s, 7.1-7.4 s), 1 pause (at 5.0-9.0 s)``, or ``none``: a run's
    ``faults`` (:func:`faults_json`) as the terminal and the report show them."""
    kinds: dict[str, list[str]] = {}
    for fault in faults:
        kinds.setdefault(fault["kind"], []).append(f"{fault['start']:.1f}-{fault['end']:.1f} s")
    return ", ".join(f"{len(spans)} {kind}{'s' if len(spans) > 1 else ''} (at {', '.join(spans)})"
                     for kind, spans in kinds.items()) or "none"


def kills_by_host(faults: list[dict[str, Any]]) -> dict[str, list[Kill]]:
    """The kills per host, in start order."""
    kills: dict[str, list[Kill]] = {}
    for fault in faults:
        if fault["kind"] == KILL:
            kills.setdefault(fault["host"], []).append(Kill(fault["t0"], fault["t1"], fault))
    for host_kills in kills.values():
        host_kills.sort(key=lambda kill: kill.start)
    return kills


Read = tuple[int, bool]
"""(record index, whether the read shows the write)."""


def check_durability(session: SessionHistory, ctx: Context) -> None:
    """Count the session's acknowledged writes that a kill could have lost, and those it did."""
    if not ctx.kills:
        return
    records = ctx.records
    gone = _valid_not_found(session, ctx)
    alive = [index for index in _session_indices(session) if records[index].type == "ok"]
    for index in session.creates:
        if records[index].type == "ok":
            _judge(session, index, [(i, True) for i in alive] + gone, "the session", ctx)
    for obj, reads in _objects_and_reads(session):
        for index in obj.writes:
            record = records[index]
            if record.type != "ok":
                continue
            value = record.value
            shown = [(read, holds(records[read], value)) for read, holds in reads]
            _judge(session, index, shown + gone, obj.label, ctx)


def _objects_and_reads(session: SessionHistory
                       ) -> Iterator[tuple[ObjectHistory, list[tuple[int, Callable[..., bool]]]]]:
    """Each written object with its reads and how a read shows a value."""
    in_list = lambda record, value: value in record.read.candidates  # noqa: E731
    answered = lambda record, value: record.read.answer == value  # noqa: E731
    yield session.lists["offerer"], [(i, in_list) for i in session.offer_reads]
    yield session.lists["answerer"], [(i, in_list) for i in session.offerer_reads]
    yield session.answer, [(i, answered) for i in session.offerer_reads]


def _session_indices(session: SessionHistory) -> Iterator[int]:
    """Every operation of the session the model kept."""
    yield from session.creates
    yield from session.leaves
    yield from session.offer_reads
    yield from session.offerer_reads
    yield from session.answer.writes
    for side in session.lists.values():
        yield from side.writes


def _valid_not_found(session: SessionHistory, ctx: Context) -> list[Read]:
    """The session's 404s that say its data is gone: before its earliest possible expiry and
    with no leave sent before them. Without a known lifetime, none."""
    records = ctx.records
    created = [records[i] for i in session.creates if records[i].type == "ok"]
    if ctx.session_ttl_ns is None or not created:
        return []
    expiry = min(record.t0 for record in created) + ctx.session_ttl_ns
    leaves = [records[i].t0 for i in session.leaves]
    return [(index, False) for index in session.not_found
            if records[index].t1 < expiry
            and not any(t0 < records[index].t1 for t0 in leaves)]


def _judge(session: SessionHistory, write: int, reads: list[Read], label: str,
           ctx: Context) -> None:
    """Hold one acknowledged write against every kill after it on its host."""
    records = ctx.records
    record = records[write]
    host = record.host
    on_host = sorted(((records[i].t0, i, shows) for i, shows in reads
                      if records[i].host == host and records[i].t0 > record.t1))
    decided = False
    for kill in ctx.kills.get(host, ()):
        if kill.start <= record.t1:
            continue
        before = [(records[i].t1, i, shows) for _t0, i, shows in on_host
                  if records[i].t1 < kill.start]
        if before and not max(before)[2]:
            continue  # already missing before the kill: not the kill's doing
        after = [(i, shows) for t0, i, shows in on_host if t0 > kill.end]
        if not after:
            break  # nothing read after this kill, nor after any later one
        if not decided:
            decided = True
            ctx.findings.result.durability.acknowledged_before += 1
        if any(shows for _i, shows in after):
            continue
        held = max(before)[1] if before else None
        ops = [write, *([held] if held is not None else []), after[0][0]]
        ctx.findings.lost_across(
            session.code, ops, lambda: _lost_words(write, label, kill, held, after, ctx),
            kill.fault)
        return


def _lost_words(write: int, label: str, kill: Kill, held: int | None,
                after: list[Read], ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    w, first = records[write], records[after[0][0]]
    fault = kill.fault
    what = (f"the create of session {w.session}" if w.op == "create"
            else f"{w.op} {explain.token(w.value)} of {label}")
    before = ("; the last read before the kill held it: "
              + _read_words(records[held], clock)) if held is not None else ""
    more = f" ({len(after)} reads after the kill in all)" if len(after) > 1 else ""
    return (f"{what}, written by {explain.who(w)}, {explain.outcome(w, clock)}, before the "
            f"kill at {clock.seconds(fault['host'], fault['t0']):.3f}-"
            f"{clock.seconds(fault['host'], fault['t1']):.3f} s ({fault['file']}:"
            f"{fault['line']}){before}; no read after the server came back shows it: the first, "
            f"{_read_words(first, clock)}{more}")


def _read_words(record: Record, clock: Clock) -> str:
    """A read in words: a poll and what it returned, or another operation and its answer."""
    if record.op == "poll" and record.type == "ok":
        read = record.read
        shown = f"answer {read.answer}" if record.side == "offerer" else ""
        return (f"{explain.poll(record, clock)}, reading candidates "
                f"{explain.shown(read.candidates)}" + (f" and {shown}" if shown else ""))
    status = record.status
    return (f"the {record.op} by {explain.who(record)} at {clock.span(record)}, answered "
            f"{status}" + (f" ({record.error})" if record.error else ""))
