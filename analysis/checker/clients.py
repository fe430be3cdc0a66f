"""The per-client guarantees a poll can show: ``monotonic-writes`` and ``cross-object-read``.

A peer never reads back what it wrote itself in this protocol: each side's poll returns the
*other* side's objects. So read-your-writes and
writes-follow-reads are not observable within one client's polls; they are implied by the
real-time rules of ``visibility`` (stale and non-monotonic reads across all clients of one host).
What a poll does show is several writes of the *other* client at once, hence:

- *monotonic-writes*: a read that shows a peer's candidate without the candidate that peer had
  appended (and seen acknowledged) before sending it.
- *cross-object-read*: an offerer poll that shows answerer candidates while the answer, which the
  same answerer peer had seen acknowledged before it began appending them, reads null.

A peer is a client with its request lanes merged (``model.peer``): the load tests record one
browser's concurrent requests as lanes ``…/offerer``, ``…/offerer.2``, each single-threaded.
Both rules rest only on real-time order within one host, so merging lanes keeps them sound.
One anomaly per read.
"""

from __future__ import annotations

from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory, first_acks, peer
from analysis.history import Record


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
            earlier = records[before[0]].value
            if earlier not in held:
                first = min(reads, key=lambda index: records[index].t1)
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
        answer = answered.get(peer(record.client))
        if (record.type != "fail" and answer is not None
                and records[answer].t1 < record.t0):
            needs_answer[record.value] = (answer, index)
    if not needs_answer:
        return
    for index in session.offerer_reads:
        read = records[index].read
        if read.answer is not None:
            continue
        for value in read.candidates:
            pair = needs_answer.get(value)
            if pair is not None:
                ctx.findings.add(
                    "cross-object-read", session.code, [pair[0], pair[1], index],
                    lambda p=pair, r=index: _cross_words(p, r, ctx),
                )
                break


def _predecessors(writes: list[int], records: list[Record]) -> dict[Any, tuple[int, int]]:
    """token -> (the same peer's acknowledged write that completed last before this one was
    sent, this write). Requiring that one, transitively, requires the peer's earlier ones."""
    by_peer: dict[Any, list[int]] = {}
    for index in writes:
        if records[index].type != "fail":
            by_peer.setdefault(peer(records[index].client), []).append(index)
    needs: dict[Any, tuple[int, int]] = {}
    for indices in by_peer.values():
        if len(indices) < 2:
            continue
        sent = sorted(indices, key=lambda index: records[index].t0)
        acked = sorted((i for i in indices if records[i].type == "ok"),
                       key=lambda index: records[index].t1)
        position, latest = 0, None
        for index in sent:
            record = records[index]
            while position < len(acked) and records[acked[position]].t1 < record.t0:
                latest = acked[position]
                position += 1
            if latest is not None:
                needs[record.value] = (latest, index)
    return needs


def _order_words(obj: ObjectHistory, pair: tuple[int, int], read: int, reads: int,
                 ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    earlier, later = records[pair[0]], records[pair[1]]
    also = f" (as do {reads - 1} other reads)" if reads > 1 else ""
    return (f"{explain.poll(records[read], clock)} shows "
            f"{obj.describe(explain.token(later.value))}, appended by "
            f"{explain.who(later)} at {clock.span(later)}, but not "
            f"{explain.token(earlier.value)}, which the same peer appended before, "
            f"{explain.outcome(earlier, clock)}{also}: it reads "
            f"{explain.shown(tuple(records[read].read.candidates))}")


def _cross_words(pair: tuple[int, int], read: int, ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    answer, candidate = records[pair[0]], records[pair[1]]
    return (f"{explain.poll(records[read], clock)} shows candidate "
            f"{explain.token(candidate.value)} of the answerer's list, appended by "
            f"{explain.who(candidate)} at {clock.span(candidate)}, but reads the answer as null, "
            f"although the same peer's answer {explain.token(answer.value)} was "
            f"{explain.outcome(answer, clock)}, before that candidate was sent")
