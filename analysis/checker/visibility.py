"""``lost-candidate``, ``lost-answer``, ``stale-read``, ``non-monotonic-read`` and the lag.

The rules are Elle's and Jepsen's ``set-full``'s (``docs/checker.md``):

- A write is *known* on a host from the earlier of its acknowledgement there and the completion
  of the first read there that shows it. Real-time order is only used within one host, so every
  comparison below is between records of the same host.
- A read that began after a write was known on its host and does not show it is a violation:
  a *stale read* when the write had been acknowledged (on that host) before the read began, a
  *non-monotonic read* when only an earlier read had shown it (data flickering out).
- A write is *lost* when it was acknowledged or seen by a read during the load and no final read
  (taken after the load stopped and the settle time passed, so after every write of the load)
  holds it; or when a final read misses it although it was known on that read's host before the
  read began. (A final read on one host missing a write that a final read elsewhere holds is not
  called lost: the two hosts' final reads and writes cannot be ordered.) A read that misses a
  lost write and is not followed by a read showing it again belongs to that lost write's story
  and is not counted again as stale.
- An indeterminate write becomes known only when a read shows it: absent, it is never an anomaly.
- Visibility lag: per write that became visible and was not lost, the longest time from known to
  the start of a read that still missed it (0 when none did).

One stale-read / non-monotonic-read per read (naming the first write it misses), one lost-* per
write. The sweep visits each host's reads in invocation order while writes become known, so the
cost is the size of what was read, not reads times writes.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from analysis.checker import explain
from analysis.checker.causes import cause_words, lost_answer_cause
from analysis.checker.context import Context
from analysis.checker.model import LIST, ObjectHistory, SessionHistory
from analysis.history import Record

Known = tuple[int, int, bool]
"""(time known, record index that made it known, whether that record is the acknowledgement)."""


class _Host:
    """One host's view of one object: when each token became known there, and last seen."""

    __slots__ = ("known", "last")

    def __init__(self) -> None:
        self.known: dict[Any, Known] = {}
        self.last: dict[Any, tuple[int, int]] = {}
        """token -> (t0, index) of the last read on this host that showed it."""


def check_visibility(session: SessionHistory, obj: ObjectHistory, verifiable: bool,
                     ctx: Context) -> None:
    """Find lost writes and stale or non-monotonic reads of one object; record the lags."""
    states = obj.states
    if not states:
        return
    records = ctx.records
    writer, acks = _writes(obj, records)
    entries, finals, seen_during_load = _reads_by_host(states, records)
    hosts: dict[str, _Host] = {}
    violations: list[tuple[int, str, set[Any]]] = []
    for host, host_entries in entries.items():
        view = hosts[host] = _Host()
        _first_and_last(view, host_entries, writer, acks, host, records)
        _sweep(view, host_entries, host, violations)
    lost: dict[Any, int] = {}
    if verifiable:
        must = {value for _host, value in acks} | (seen_during_load & writer.keys())
        shown_at_end = set().union(*(state for _index, state in finals))
        for value in must - shown_at_end:
            lost[value] = _final_near(writer[value], finals, records)
    during_load = []
    for violation in violations:
        if not records[violation[0]].final:
            during_load.append(violation)
        elif verifiable:
            for value in violation[2]:
                lost.setdefault(value, violation[0])
    lags: dict[Any, int] = {}
    for index, host, missing in during_load:
        _classify(session, obj, index, hosts[host], missing, lost, acks, writer, lags, ctx)
    for value, index in lost.items():
        _report_lost(session, obj, value, index, writer, hosts, ctx)
    for value in writer:
        if value not in lost and any(value in view.last for view in hosts.values()):
            ctx.lags_ns.append(lags.get(value, 0))


def _final_near(write: int, finals: list[tuple[int, tuple[Any, ...]]],
                records: list[Record]) -> int:
    """The final read to cite for a write that no final read holds: one on the write's host if
    there is one (its times compare with the write's), else the first."""
    host = records[write].host
    return next((index for index, _state in finals if records[index].host == host),
                finals[0][0])


def _writes(obj: ObjectHistory, records: list[Record]
            ) -> tuple[dict[Any, int], dict[tuple[str, Any], int]]:
    """token -> its write (an acknowledged one if any); (host, token) -> earliest ack there."""
    writer: dict[Any, int] = {}
    acks: dict[tuple[str, Any], int] = {}
    for index in obj.writes:
        record = records[index]
        kind = record.type
        if kind == "fail":
            continue
        value = record.value
        if kind == "ok":
            key = (record.host, value)
            best = acks.get(key)
            if best is None or record.t1 < records[best].t1:
                acks[key] = index
            prior = writer.get(value)
            if prior is None or records[prior].type != "ok":
                writer[value] = index
        else:
            writer.setdefault(value, index)
    return writer, acks


def _reads_by_host(states: dict[tuple[Any, ...], list[int]], records: list[Record]
                   ) -> tuple[dict[str, list[tuple[int, int, int, tuple[Any, ...]]]],
                              list[tuple[int, tuple[Any, ...]]], set[Any]]:
    """Per host, (t0, t1, index, state) of every read in invocation order; the final reads;
    every token some read during the load showed."""
    entries: dict[str, list[tuple[int, int, int, tuple[Any, ...]]]] = {}
    finals: list[tuple[int, tuple[Any, ...]]] = []
    seen_during_load: set[Any] = set()
    for state, indices in states.items():
        during_load = False
        for index in indices:
            record = records[index]
            host_entries = entries.get(record.host)
            if host_entries is None:
                host_entries = entries[record.host] = []
            host_entries.append((record.t0, record.t1, index, state))
            if record.final:
                finals.append((index, state))
            else:
                during_load = True
        if during_load:
            seen_during_load.update(state)
    for host_entries in entries.values():
        host_entries.sort()  # index is unique, so states are never compared
    return entries, finals, seen_during_load


def _first_and_last(view: _Host, host_entries: list[tuple[int, int, int, tuple[Any, ...]]],
                    writer: dict[Any, int], acks: dict[tuple[str, Any], int], host: str,
                    records: list[Record]) -> None:
    """Fill ``view.known`` (earliest of ack and first read showing) and ``view.last``."""
    per_state: dict[tuple[Any, ...], list[int]] = {}
    for t0, t1, index, state in host_entries:
        summary = per_state.get(state)
        if summary is None:
            per_state[state] = [t1, index, t0, index]
        else:
            if t1 < summary[0]:
                summary[0], summary[1] = t1, index
            summary[2], summary[3] = t0, index
    known = view.known
    last = view.last
    for state, (first_t1, first_index, last_t0, last_index) in per_state.items():
        for value in state:
            if value not in writer:
                continue
            seen = known.get(value)
            if seen is None or first_t1 < seen[0]:
                known[value] = (first_t1, first_index, False)
            latest = last.get(value)
            if latest is None or last_t0 > latest[0]:
                last[value] = (last_t0, last_index)
    for (ack_host, value), index in acks.items():
        if ack_host != host:
            continue
        t1 = records[index].t1
        seen = known.get(value)
        if seen is None or t1 <= seen[0]:
            known[value] = (t1, index, True)


def _sweep(view: _Host, host_entries: list[tuple[int, int, int, tuple[Any, ...]]], host: str,
           violations: list[tuple[int, str, set[Any]]]) -> None:
    """Record every read that began after a write was known (on this host) and lacks it."""
    events = sorted(((known[0], value) for value, known in view.known.items()),
                    key=itemgetter(0))
    count = len(events)
    known_now: set[Any] = set()
    position = 0
    sets: dict[tuple[Any, ...], frozenset[Any]] = {}
    for t0, _t1, index, state in host_entries:
        while position < count and events[position][0] < t0:
            known_now.add(events[position][1])
            position += 1
        if not known_now:
            continue
        held = sets.get(state)
        if held is None:
            held = sets[state] = frozenset(state)
        if known_now <= held:
            continue
        violations.append((index, host, known_now - held))


def _classify(session: SessionHistory, obj: ObjectHistory, index: int, view: _Host,
              missing: set[Any], lost: dict[Any, int], acks: dict[tuple[str, Any], int],
              writer: dict[Any, int], lags: dict[Any, int], ctx: Context) -> None:
    """Report one read made during the load that missed known writes."""
    records = ctx.records
    read = records[index]
    host = read.host
    stale: list[Any] = []
    flicker: list[Any] = []
    for value in sorted(missing, key=lambda v: view.known[v][0]):
        if value in lost:
            later = view.last.get(value)
            if later is None or later[0] <= read.t1:
                continue
        since = view.known[value][0]
        lags[value] = max(lags.get(value, 0), read.t0 - since)
        ack = acks.get((host, value))
        if ack is not None and records[ack].t1 < read.t0:
            stale.append(value)
        else:
            flicker.append(value)
    if stale:
        value = stale[0]
        ack = acks[(host, value)]
        later = _later_read(view, value, read)
        ops = [ack, index] + ([later] if later is not None else [])
        ctx.findings.add("stale-read", session.code, ops,
                         lambda: _stale_words(obj, value, ack, index, later, len(stale), ctx))
    if flicker:
        value = flicker[0]
        shown_by = view.known[value][1]
        ops = [writer[value], shown_by, index]
        ctx.findings.add("non-monotonic-read", session.code, ops,
                         lambda: _flicker_words(obj, value, shown_by, index, len(flicker), ctx))


def _later_read(view: _Host, value: Any, read: Record) -> int | None:
    latest = view.last.get(value)
    return latest[1] if latest is not None and latest[0] > read.t1 else None


def _report_lost(session: SessionHistory, obj: ObjectHistory, value: Any, final: int,
                 writer: dict[Any, int], hosts: dict[str, _Host], ctx: Context) -> None:
    records = ctx.records
    final_host = records[final].host
    holders = [view.last[value] for view in hosts.values() if value in view.last]
    same_host = hosts[final_host].last.get(value)
    last_held = same_host or (max(holders) if holders else None)
    last = last_held[1] if last_held else None
    ops = [writer[value], final] + ([last] if last is not None else [])
    if obj.kind == LIST:
        ctx.findings.add("lost-candidate", session.code, ops,
                         lambda: _lost_words(obj, value, writer[value], final, last, ctx))
        return
    cause = lost_answer_cause(session, writer[value], final, ctx)
    ops += [cause.culprit] if cause.culprit is not None else []
    ctx.findings.add(
        "lost-answer", session.code, ops,
        lambda: (_lost_words(obj, value, writer[value], final, last, ctx) + "; "
                 + cause_words(cause, records[final], session, ctx)),
        cause=cause)


def _reads_as(obj: ObjectHistory, read: Record) -> str:
    """What a read returned for the object, in words."""
    if obj.kind == LIST:
        return explain.shown(tuple(read.read.candidates))
    answer = read.read.answer
    return "null" if answer is None else explain.token(answer)


def _lost_words(obj: ObjectHistory, value: Any, write: int, final: int, last: int | None,
                ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    w, f = records[write], records[final]
    held = "none" if last is None else explain.poll(records[last], clock)
    return (f"{obj.describe(explain.token(value))}, written by {explain.who(w)}, "
            f"{explain.outcome(w, clock)}; the final read of {obj.label} at {clock.at(f)} "
            f"(by {explain.who(f)}) does not hold it: it reads {_reads_as(obj, f)}; "
            f"last read that held it: {held}")


def _stale_words(obj: ObjectHistory, value: Any, ack: int, index: int, later: int | None,
                 misses: int, ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    read = records[index]
    more = f" (and {misses - 1} more acknowledged {obj.item}s)" if misses > 1 else ""
    then = ("; a later read shows it: " + explain.poll(records[later], clock)
            if later is not None else "")
    return (f"{explain.poll(read, clock)} began after {obj.describe(explain.token(value))} "
            f"was written by {explain.who(records[ack])}, "
            f"{explain.outcome(records[ack], clock)}, but does not show it{more}: it reads "
            f"{_reads_as(obj, read)}{then}")


def _flicker_words(obj: ObjectHistory, value: Any, shown_by: int, index: int, misses: int,
                   ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    read, earlier = records[index], records[shown_by]
    more = f" (and {misses - 1} more)" if misses > 1 else ""
    return (f"{explain.poll(read, clock)} does not show {obj.describe(explain.token(value))}"
            f"{more}, which {explain.poll(earlier, clock)} had already shown, "
            f"completing before this poll began: it reads {_reads_as(obj, read)}")
