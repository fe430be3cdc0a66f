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

from analysis.history import HistoryError, Record

LIST = "list"
REGISTER = "register"


@dataclass(slots=True)
class ObjectHistory:
    """The writes and reads of one list or register of one session."""

    kind: str
    label: str
    """How explanations name it: "the offerer's list", "the answer"."""
    writes: list[int] = field(default_factory=list)
    """Record indices of the writes (any type)."""
    states: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    """Distinct returned states (tuples of tokens), each with the indices of the ok reads that
    returned it."""
    read_after_settling: bool = False
    """Whether a final read (after the load and the settle time) returned it."""

    @property
    def item(self) -> str:
        return "candidate" if self.kind == LIST else "answer"

    def describe(self, token: str) -> str:
        """``"candidate x7f of the offerer's list"`` or ``"answer 4711"``."""
        return f"candidate {token} of {self.label}" if self.kind == LIST else f"answer {token}"


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
    code: str, indices: list[int], records: list[Record], where: Any
) -> SessionHistory:
    """Sort one session's records into its objects; ``where(index)`` names a record for errors."""
    offerer_list = ObjectHistory(LIST, "the offerer's list")
    answerer_list = ObjectHistory(LIST, "the answerer's list")
    answer = ObjectHistory(REGISTER, "the answer")
    session = SessionHistory(code, {"offerer": offerer_list, "answerer": answerer_list}, answer)
    for index in indices:
        record = records[index]
        op = record.op
        kind = record.type
        if kind == "ok":
            session.exists = True
        elif kind == "fail" and record.status == 404:
            session.not_found.append(index)
        if op == "poll":
            if kind != "ok":
                continue
            read = record.read
            side = record.side
            final = record.final
            if side == "offerer":
                _add_read(answerer_list.states, tuple(read.candidates), index)
                value = read.answer
                _add_read(answer.states, () if value is None else (value,), index)
                session.offerer_reads.append(index)
                if final:
                    answerer_list.read_after_settling = answer.read_after_settling = True
            elif side == "answerer":
                _add_read(offerer_list.states, tuple(read.candidates), index)
                session.offer_reads.append(index)
                if final:
                    offerer_list.read_after_settling = True
            else:
                _no_side(record, index, where)
        elif op == "candidate":
            side = record.side
            if side == "offerer":
                offerer_list.writes.append(index)
            elif side == "answerer":
                answerer_list.writes.append(index)
            else:
                _no_side(record, index, where)
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


def peer(client: Any) -> Any:
    """The logical peer of a client: the load tests give one role's concurrent requests lanes
    (``…/answerer``, ``…/answerer.2``, …), each a client, all one browser peer."""
    if not isinstance(client, str):
        return client
    head, _, role = client.rpartition("/")
    base, dot, lane = role.partition(".")
    return f"{head}/{base}" if dot and lane.isdigit() else client


def first_acks(indices: list[int], records: list[Record], field: str) -> dict[Any, int]:
    """Per value of ``field`` (``"value"``, or ``"client"``: per peer), the write acknowledged
    first."""
    first: dict[Any, int] = {}
    for index in indices:
        record = records[index]
        if record.type == "ok":
            key = peer(record.client) if field == "client" else getattr(record, field)
            best = first.get(key)
            if best is None or record.t1 < records[best].t1:
                first[key] = index
    return first


def _add_read(states: dict[tuple[Any, ...], list[int]], state: tuple[Any, ...], index: int
              ) -> None:
    reads = states.get(state)
    if reads is None:
        states[state] = [index]
    else:
        reads.append(index)


def _no_side(record: Record, index: int, where: Any) -> None:
    raise HistoryError(f"{where(index)}: {record.op} needs side offerer or answerer, "
                       f"got {record.side!r}")
