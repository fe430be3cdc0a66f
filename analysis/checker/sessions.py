"""Rules about a session as a whole: ``conflicting-answers``, ``lost-session``, verifiability.

- *conflicting-answers*: two different answers both acknowledged (one anomaly per session).
- *lost-session*: an operation answered 404 after the session's create was acknowledged and
  before its earliest possible expiry (the create's invocation plus the shortest lifetime the
  settings allow), on the create's host, with no leave that could have come first. One per
  session, proven by the create and the first such 404.
- A session is *verifiable* when it was not left and each of its objects has a final read;
  otherwise lost writes cannot be decided and the session is counted as unverifiable.
"""

from __future__ import annotations

from analysis.checker import explain
from analysis.checker.context import Context
from analysis.checker.model import ObjectHistory, SessionHistory, first_acks
from analysis.history import Record


def check_conflicting_answers(session: SessionHistory, ctx: Context) -> None:
    """Report a session in which two different answers were both acknowledged."""
    records = ctx.records
    first_ok = first_acks(session.answer.writes, records, "value")
    if len(first_ok) < 2:
        return
    ops = sorted(first_ok.values(), key=lambda index: records[index].t1)
    ctx.findings.add("conflicting-answers", session.code, ops, lambda: _conflict_words(ops, ctx))


def check_lost_session(session: SessionHistory, ctx: Context) -> None:
    """Report a session that answered 404 while it certainly still existed."""
    if ctx.session_ttl_ns is None or not session.not_found:
        return
    records = ctx.records
    created = [i for i in session.creates if records[i].type == "ok"]
    if not created:
        return
    create_index = min(created, key=lambda index: records[index].t1)
    create = records[create_index]
    expiry = create.t0 + ctx.session_ttl_ns
    leaves = [records[i] for i in session.leaves]
    for index in sorted(session.not_found, key=lambda i: records[i].t0):
        gone = records[index]
        if (gone.host != create.host or gone.t0 <= create.t1
                or gone.t1 >= expiry):
            continue
        if any(leave.host != gone.host or leave.t0 < gone.t1 for leave in leaves):
            continue
        ctx.findings.add("lost-session", session.code, [create_index, index],
                         lambda: _lost_session_words(create, gone, expiry, ctx))
        return


def is_verifiable(session: SessionHistory, obj: ObjectHistory) -> bool:
    """Whether lost writes of ``obj`` can be decided: not left, and read after settling."""
    return not session.leaves and obj.read_after_settling


def _conflict_words(ops: list[int], ctx: Context) -> str:
    records, clock = ctx.records, ctx.clock
    parts = [f"{explain.token(records[i].value)} by {explain.who(records[i])}, "
             f"{explain.outcome(records[i], clock)}" for i in ops]
    return f"{len(ops)} different answers were acknowledged for this session: " + "; ".join(parts)


def _lost_session_words(create: Record, gone: Record, expiry: int,
                        ctx: Context) -> str:
    clock = ctx.clock
    remaining = (expiry - gone.t1) / 1e9
    return (f"the session was created by {explain.who(create)}, "
            f"{explain.outcome(create, clock)}; the {gone.op} by {explain.who(gone)} at "
            f"{clock.span(gone)} answered 404 ({gone.error or 'not found'}), at least "
            f"{remaining:.3f} s before the session could expire")
