"""``incompatible-order``: two reads of one list where neither is a prefix of the other.

An append-only list has one total order, so every read is a prefix of the longest: sorting the
distinct states by length and checking that each is a prefix of the next proves it for all pairs
(prefix is transitive), in time linear in what was read. Lost read-modify-write appends show up
here too: two racing appends leave ``[.., a]`` in one read and ``[.., b]`` in a later one.
One anomaly per list, proven by the first adjacent pair that breaks the rule.
"""

from __future__ import annotations

from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory


def check_order(session: SessionHistory, obj: ObjectHistory, ctx: Context) -> None:
    """Report the list's first pair of reads whose orders cannot both be right."""
    states = obj.states
    ordered = sorted(states, key=len)
    for shorter, longer in zip(ordered, ordered[1:]):
        if longer[: len(shorter)] != shorter:
            first, second = states[shorter][0], states[longer][0]
            ctx.findings.add(
                "incompatible-order", session.code, [first, second],
                lambda a=shorter, b=longer, i=first, j=second: _words(obj, a, b, i, j, ctx),
            )
            return


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
