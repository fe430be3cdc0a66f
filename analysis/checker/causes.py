"""Why an acknowledged answer was lost, and which write carried the loss.

A ``lost-answer`` (``visibility``) says an answer the offerer was promised is not what the final
reads hold; rondevu left Workers KV because "ICE candidate updates would overwrite answers with
stale data", so the checker also says which of two things happened (``docs/checker.md``):

- **overwritten**: another answer took its place. The final read holds another answer, and a
  write of that answer was not certainly over before the lost one was written (same host), so
  that write may have replaced it.
- **erased**: the stored session ended with no answer, or with another answer that only a write
  certainly over before the lost one could have put there (it came back with a stale copy of
  the session). Then the loss was carried by some other write, and the checker names it: the
  *culprit* is the latest acknowledged write of the session, on any of its objects, that was
  acknowledged after the lost answer (same host) and whose value the final reads of its object
  hold. A store that puts a session back whole (KV) leaves exactly that write's value in the
  final state; a write acknowledged later whose value is not there was itself overwritten.

Real-time order is only used between records of one host, as everywhere in the checker.
"""

from __future__ import annotations

from typing import Any

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory
from analysis.checker.result import ERASED, OVERWRITTEN, Cause
from analysis.history import Record


def lost_answer_cause(session: SessionHistory, write: int, final: int, ctx: Context) -> Cause:
    """Classify the lost answer written by record ``write``, given the final read ``final``
    that lacks it."""
    records = ctx.records
    lost = records[write]
    now = records[final].read.answer
    if now is not None and not _certainly_before_all(session.answer, now, lost, records):
        return Cause(OVERWRITTEN)
    culprit = _culprit(session, lost, records)
    if culprit is None:
        return Cause(ERASED)
    return Cause(ERASED, culprit, f"{records[culprit].side}-candidate")


def _certainly_before_all(answer: ObjectHistory, value: Any, lost: Record,
                          records: list[Record]) -> bool:
    """Whether every write of answer ``value`` completed, on the lost answer's host, before the
    lost answer was written (so none of them can have replaced it)."""
    writes = [records[i] for i in answer.writes
              if records[i].value == value and records[i].type != "fail"]
    return bool(writes) and all(w.host == lost.host and w.t1 < lost.t0
                                for w in writes)


def _culprit(session: SessionHistory, lost: Record,
             records: list[Record]) -> int | None:
    """The latest acknowledged write after ``lost`` (same host) whose value its object's final
    reads hold; None when there is none.

    Only candidate writes can be it: an answer acknowledged after the lost one and held by the
    final read would have made the loss an overwrite.
    """
    best: int | None = None
    for obj in session.lists.values():
        held = _finally_held(obj, records)
        for index in obj.writes:
            record = records[index]
            if (record.type == "ok" and record.host == lost.host
                    and record.t1 > lost.t1 and record.value in held
                    and (best is None or record.t1 > records[best].t1)):
                best = index
    return best


def _finally_held(obj: ObjectHistory, records: list[Record]) -> set[Any]:
    """The values some final read of ``obj`` holds."""
    held: set[Any] = set()
    for state, indices in obj.states.items():
        if any(records[index].final for index in indices):
            held.update(state)
    return held


def describe_culprit(session: SessionHistory, culprit: int, ctx: Context) -> str:
    """``"the offerer's ICE candidate update x7f, written by …, acknowledged at 1.207 s"``."""
    record = ctx.records[culprit]
    return (f"the {record.side}'s ICE candidate update {explain.token(record.value)}, "
            f"written by {explain.who(record)}, {explain.outcome(record, ctx.clock)}")


def cause_words(cause: Cause, final: Record, session: SessionHistory,
                ctx: Context) -> str:
    """The sentence a lost answer's explanation ends with: what took its place, or what erased
    it."""
    now = final.read.answer
    if cause.cause == OVERWRITTEN:
        return f"overwritten: another answer, {explain.token(now)}, took its place"
    state = ("no answer" if now is None else
             f"answer {explain.token(now)}, written before it, back from a stale copy")
    if cause.culprit is None:
        return (f"erased: the session ended with {state}; no acknowledged write after it is in "
                "the final state, so the write that erased it cannot be named")
    return (f"erased: the session ended with {state}; the write that carried the erasure is "
            f"{describe_culprit(session, cause.culprit, ctx)}: the latest acknowledged write "
            "after the answer whose value the final state holds")
