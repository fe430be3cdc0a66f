"""A session's records sorted into the objects the rules check.

Per session the store holds two append-only lists and one write-once register. Which poll reads
which object is the part easiest to get wrong, so it is decided here only:

- the *offerer's list* (``candidate`` with ``side: offerer``) is read by the **answerer's** polls
  (``read.candidates`` of an answerer poll are the offer candidates);
- the *answerer's list* (``candidate`` with ``side: answerer``) is read by the **offerer's** polls;
- the *answer* (``answer`` ops) is read by the offerer's polls (``read.answer``).

Reads are kept as distinct *states* (the tuple of tokens returned) with the reads that returned
each, so the rules do work per distinct state rather than per poll: a settled list polls the same
state many times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analysis.history import HistoryError

LIST = "list"
REGISTER = "register"
SIDES = ("offerer", "answerer")


@dataclass(slots=True)
class ObjectHistory:
    """The writes and reads of one list or register of one session."""

    kind: str
    label: str
    """How explanations name it: "the offerer's list", "the answer"."""
    writes: list[int] = field(default_factory=list)
    """Record indices of the writes (any type)."""
    reads: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    """(record index, tokens returned) of every ok read."""

    @property
    def item(self) -> str:
        return "candidate" if self.kind == LIST else "answer"

    def describe(self, token: str) -> str:
        """``"candidate x7f of the offerer's list"`` or ``"answer 4711"``."""
        return f"candidate {token} of {self.label}" if self.kind == LIST else f"answer {token}"

    def states(self) -> dict[tuple[Any, ...], list[int]]:
        """Distinct returned states, each with the indices of the reads that returned it."""
        states: dict[tuple[Any, ...], list[int]] = {}
        for index, tokens in self.reads:
            states.setdefault(tokens, []).append(index)
        return states


@dataclass(slots=True)
class SessionHistory:
    """Everything recorded about one session code."""

    code: str
    lists: dict[str, ObjectHistory]
    """The offerer's and the answerer's candidate lists, keyed by the writing side."""
    answer: ObjectHistory
    creates: list[int] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    """Operations answered 404."""
    offer_reads: list[int] = field(default_factory=list)
    """Answerer polls (they return the offer)."""
    offerer_reads: list[int] = field(default_factory=list)
    exists: bool = False
    """Whether anything shows the session was ever there (an ok operation or a create)."""

    def objects(self) -> list[ObjectHistory]:
        return [self.lists["offerer"], self.lists["answerer"], self.answer]


def split_session(
    code: str, indices: list[int], records: list[dict[str, Any]], where: Any
) -> SessionHistory:
    """Sort one session's records into its objects; ``where(index)`` names a record for errors."""
    offerer_list = ObjectHistory(LIST, "the offerer's list")
    answerer_list = ObjectHistory(LIST, "the answerer's list")
    answer = ObjectHistory(REGISTER, "the answer")
    session = SessionHistory(code, {"offerer": offerer_list, "answerer": answerer_list}, answer)
    for index in indices:
        record = records[index]
        op = record["op"]
        kind = record["type"]
        if kind == "ok":
            session.exists = True
        elif kind == "fail" and record.get("status") == 404:
            session.not_found.append(index)
        if op == "poll":
            if kind != "ok":
                continue
            read = record["read"]
            side = _side(record, index, where)
            tokens = tuple(read["candidates"])
            if side == "offerer":
                answerer_list.reads.append((index, tokens))
                value = read.get("answer")
                answer.reads.append((index, () if value is None else (value,)))
                session.offerer_reads.append(index)
            else:
                offerer_list.reads.append((index, tokens))
                session.offer_reads.append(index)
        elif op == "candidate":
            session.lists[_side(record, index, where)].writes.append(index)
        elif op == "answer":
            answer.writes.append(index)
        elif op == "create":
            if kind != "fail":
                session.creates.append(index)
                session.exists = True
        elif op == "leave":
            if kind != "fail":
                session.leaves.append(index)
    return session


def _side(record: dict[str, Any], index: int, where: Any) -> str:
    side = record.get("side")
    if side not in SIDES:
        raise HistoryError(f"{where(index)}: {record['op']} needs side offerer or answerer, "
                           f"got {side!r}")
    return side
