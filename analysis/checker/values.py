"""``phantom`` and ``duplicate``: what a read holds that no write can explain.

- *phantom*: a token no operation wrote to that object (a value recorded whole because it held no
  token counts here too), or one whose every write certainly failed (aborted data made visible);
  also an offer that is not the one this session was created with.
- *duplicate*: one token more often in one read than it was written (normally: twice, once
  written).

Each token is reported once per object, with the first read (earliest completion) that shows it.
Indeterminate writes count as written: seeing them is never an anomaly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory
from analysis.history import Record


def check_values(session: SessionHistory, obj: ObjectHistory, ctx: Context) -> None:
    """Report phantom and duplicate tokens in the reads of one object."""
    records = ctx.records
    written: Counter[Any] = Counter()
    failed: dict[Any, int] = {}
    for index in obj.writes:
        record = records[index]
        if record.type == "fail":
            failed.setdefault(record.value, index)
        else:
            written[record.value] += 1
    states = obj.states
    phantoms = set().union(*states).difference(written)
    duplicates: dict[Any, dict[tuple[Any, ...], list[int]]] = {}
    for state, reads in states.items():
        if len(state) > 1 and len(set(state)) < len(state):
            for value, times in Counter(state).items():
                if times > max(1, written[value]):
                    duplicates.setdefault(value, {})[state] = reads
    for value in phantoms:
        read = _first_read_showing(value, states, records)
        aborted = failed.get(value)
        proof = [read] if aborted is None else [aborted, read]
        ctx.findings.add("phantom", session.code, proof,
                         lambda v=value, r=read, a=aborted: _phantom_words(obj, v, r, a, ctx))
    for value, holding in duplicates.items():
        read = _first_read_showing(value, holding, records)
        writes = [i for i in obj.writes if records[i].value == value]
        ctx.findings.add("duplicate", session.code, writes + [read],
                         lambda v=value, r=read, n=len(writes): _duplicate_words(obj, v, r, n, ctx))


def check_offer(session: SessionHistory, ctx: Context) -> None:
    """An answerer poll must return the offer this session was created with."""
    records = ctx.records
    offers = {records[i].value for i in session.creates}
    if not offers:
        return
    wrong: dict[Any, int] = {}
    for index in session.offer_reads:
        offer = records[index].read.offer
        if offer not in offers:
            best = wrong.get(offer)
            if best is None or records[index].t1 < records[best].t1:
                wrong[offer] = index
    for offer, index in wrong.items():
        ctx.findings.add(
            "phantom", session.code, [session.creates[0], index],
            lambda o=offer, i=index: (
                f"{explain.poll(records[i], ctx.clock)} returned the offer "
                f"{explain.token(o)}, but the session was created with "
                f"{explain.token(records[session.creates[0]].value)}"
            ),
        )


def _first_read_showing(value: Any, states: dict[tuple[Any, ...], list[int]],
                        records: list[Record]) -> int:
    candidates = (index for state, reads in states.items() if value in state for index in reads)
    return min(candidates, key=lambda index: records[index].t1)


def _phantom_words(obj: ObjectHistory, value: Any, read: int, aborted: int | None,
                   ctx: Context) -> str:
    records = ctx.records
    if aborted is None:
        why = "no operation wrote it"
    else:
        why = (f"its only write, by {explain.who(records[aborted])}, "
               f"{explain.outcome(records[aborted], ctx.clock)}")
    shown = obj.describe(explain.token(value))
    return f"{explain.poll(records[read], ctx.clock)} shows {shown}: {why}"


def _duplicate_words(obj: ObjectHistory, value: Any, read: int, writes: int,
                     ctx: Context) -> str:
    record = ctx.records[read]
    tokens = tuple(record.read.candidates)
    return (f"{explain.poll(record, ctx.clock)} shows {obj.item} {explain.token(value)} "
            f"{tokens.count(value)} times in {obj.label} {explain.shown(tokens)}; "
            f"it was written {writes} time(s)")
