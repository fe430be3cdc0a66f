"""The per-client guarantees a poll can show: ``monotonic-writes`` and ``cross-object-read``.

A client (one logical, single-threaded peer) never reads back what it wrote itself in this
protocol: each side's poll returns the *other* side's objects. So read-your-writes and
writes-follow-reads are not observable within one client's polls; they are implied by the
real-time rules of ``visibility`` (stale and non-monotonic reads across all clients of one host).
What a poll does show is several writes of the *other* client at once, hence:

- *monotonic-writes*: a read that shows a client's candidate without the candidate that client
  had appended (and seen acknowledged) before it.
- *cross-object-read*: an offerer poll that shows answerer candidates while the answer, which the
  same answerer client had seen acknowledged before it began appending them, reads null.

One anomaly per read.
"""

from __future__ import annotations

from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory, first_acks


def check_monotonic_writes(session: SessionHistory, obj: ObjectHistory, ctx: Context) -> None:
    """Report reads holding a client's later candidate without its earlier acknowledged one."""
    records = ctx.records
    states = obj.states
    needs = _predecessors(obj.writes, records)
    if not needs:
        return
    for state, reads in states.items():
        held: set[Any] | None = None
        for value in state:
            before = needs.get(value)
            if before is None:
                continue
            if held is None:
                held = set(state)
            earlier = records[before[0]].get("value")
            if earlier not in held:
                first = min(reads, key=lambda index: records[index]["t1"])
                ctx.findings.add(
                    "monotonic-writes", session.code, [before[0], before[1], first],
                    lambda b=before, r=first, n=len(reads): _order_words(obj, b, r, n, ctx),
                    times=len(reads),
                )
                break


def check_cross_object(session: SessionHistory, ctx: Context) -> None:
    """Report offerer polls that show an answerer's candidates but not its earlier answer."""
    records = ctx.records
    answered = first_acks(session.answer.writes, records, "client")
    if not answered:
        return
    needs_answer: dict[Any, tuple[int, int]] = {}
    for index in session.lists["answerer"].writes:
        record = records[index]
        answer = answered.get(record.get("client"))
        if (record["type"] != "fail" and answer is not None
                and records[answer]["t1"] < record["t0"]):
            needs_answer[record.get("value")] = (answer, index)
    if not needs_answer:
        return
    for index in session.offerer_reads:
        read = records[index]["read"]
        if read.get("answer") is not None:
            continue
        for value in read["candidates"]:
            pair = needs_answer.get(value)
            if pair is not None:
                ctx.findings.add(
                    "cross-object-read", session.code, [pair[0], pair[1], index],
                    lambda p=pair, r=index: _cross_words(p, r, ctx),
                )
                break


def _predecessors(writes: list[int], records: list[dict[str, Any]]) -> dict[Any, tuple[int, int]]:
    """token -> (the same client's previous acknowledged write, this write) when it completed
    before this one was invoked; writes of one client overlapping in time make no claim."""
    by_client: dict[Any, list[int]] = {}
    for index in writes:
        if records[index]["type"] != "fail":
            by_client.setdefault(records[index].get("client"), []).append(index)
    needs: dict[Any, tuple[int, int]] = {}
    for indices in by_client.values():
        if len(indices) < 2:
            continue
        indices.sort(key=lambda index: records[index]["t0"])
        previous_ok: int | None = None
        for index in indices:
            record = records[index]
            if previous_ok is not None and records[previous_ok]["t1"] < record["t0"]:
                needs[record.get("value")] = (previous_ok, index)
            if record["type"] == "ok":
                previous_ok = index
    return needs


def _order_words(obj: ObjectHistory, pair: tuple[int, int], read: int, reads: int,
                 ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    earlier, later = records[pair[0]], records[pair[1]]
    also = f" (as do {reads - 1} other reads)" if reads > 1 else ""
    return (f"{explain.poll(records[read], clock)} shows "
            f"{obj.describe(explain.token(later.get('value')))}, appended by "
            f"{explain.who(later)} at {clock.span(later)}, but not "
            f"{explain.token(earlier.get('value'))}, which the same client appended before, "
            f"{explain.outcome(earlier, clock)}{also}: it reads "
            f"{explain.shown(tuple(records[read]['read']['candidates']))}")


def _cross_words(pair: tuple[int, int], read: int, ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    answer, candidate = records[pair[0]], records[pair[1]]
    return (f"{explain.poll(records[read], clock)} shows candidate "
            f"{explain.token(candidate.get('value'))} of the answerer's list, appended by "
            f"{explain.who(candidate)} at {clock.span(candidate)}, but reads the answer as null, "
            f"although the same client's answer {explain.token(answer.get('value'))} was "
            f"{explain.outcome(answer, clock)}, before that candidate was sent")
