"""``incompatible-order``: two reads of one list where neither is a prefix of the other.

An append-only list has one total order, so every read is a prefix of the longest: sorting the
distinct states by length and checking that each is a prefix of the next proves it for all pairs
(prefix is transitive), in time linear in what was read. Lost read-modify-write appends show up
here too: two racing appends leave ``[.., a]`` in one read and ``[.., b]`` in a later one.
The same total order must also agree with real time: an append acknowledged before another
was sent (on the same host) comes first. With every read a prefix of the longest, checking the
longest read against the appends is enough (one backward sweep keeping the earliest
acknowledgement of what the list puts later).
One anomaly per list, proven by the first pair of reads, or of appends, that breaks a rule.
"""

from __future__ import annotations

from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory
from analysis.history import Record


def check_order(session: SessionHistory, obj: ObjectHistory, ctx: Context) -> None:
    """Report the list's first pair of reads whose orders cannot both be right, or else the
    first pair of appends that the list orders against real time."""
    states = obj.states
    if not states:
        return
    ordered = sorted(states, key=len)
    for shorter, longer in zip(ordered, ordered[1:]):
        if longer[: len(shorter)] != shorter:
            first, second = states[shorter][0], states[longer][0]
            ctx.findings.add(
                "incompatible-order", session.code, [first, second],
                lambda a=shorter, b=longer, i=first, j=second: _words(obj, a, b, i, j, ctx),
            )
            return
    longest = ordered[-1]
    pair = _against_real_time(obj, longest, ctx.records)
    if pair is not None:
        read = states[longest][0]
        ctx.findings.add("incompatible-order", session.code, [pair[0], pair[1], read],
                         lambda: _real_time_words(obj, pair, read, ctx))


def _against_real_time(obj: ObjectHistory, chain: tuple[Any, ...],
                       records: list[Record]) -> tuple[int, int] | None:
    """(earlier append, later append) that ``chain`` puts in the wrong order, or None."""
    acked: dict[Any, int] = {}
    sent: dict[Any, list[int]] = {}
    for index in obj.writes:
        record = records[index]
        if record.type == "ok":
            acked.setdefault(record.value, index)
        if record.type != "fail":
            sent.setdefault(record.value, []).append(index)
    earliest_after: dict[str, int] = {}
    """Per host, the append acknowledged first among those the chain puts after this point."""
    for value in reversed(list(dict.fromkeys(chain))):  # a duplicate counts where first seen
        for index in sent.get(value, ()):
            record = records[index]
            after = earliest_after.get(record.host)
            if after is not None and records[after].t1 < record.t0:
                return after, index
        ack = acked.get(value)
        if ack is not None:
            host = records[ack].host
            best = earliest_after.get(host)
            if best is None or records[ack].t1 < records[best].t1:
                earliest_after[host] = ack
    return None


def _real_time_words(obj: ObjectHistory, pair: tuple[int, int], read: int,
                     ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    earlier, later = records[pair[0]], records[pair[1]]
    return (
        f"{explain.poll(records[read], clock)} puts {explain.token(later.value)} before "
        f"{explain.token(earlier.value)} in {obj.label} "
        f"{explain.shown(tuple(records[read].read.candidates))}, but "
        f"{explain.token(earlier.value)} was appended by {explain.who(earlier)}, "
        f"{explain.outcome(earlier, clock)}, before {explain.token(later.value)} was sent "
        f"by {explain.who(later)} at {clock.at(later)}"
    )


def _words(obj: ObjectHistory, shorter: tuple[Any, ...], longer: tuple[Any, ...],
           first: int, second: int, ctx: Context) -> str:
    position = next(k for k, (x, y) in enumerate(zip(shorter, longer)) if x != y)
    records = ctx.records
    return (
        f"{explain.poll(records[first], ctx.clock)} reads {obj.label} as "
        f"{explain.shown(shorter)} and {explain.poll(records[second], ctx.clock)} as "
        f"{explain.shown(longer)}: neither is a prefix of the other (position {position + 1}: "
        f"{explain.token(shorter[position])} against {explain.token(longer[position])})"
    )
