"""Single faults injected into a correct history, one per anomaly type the checker reports.

Each injector changes (or adds) as little as possible to break one guarantee, and returns what
it did: the anomaly type the checker must report, the record it touched (whose file and line the
proof must include) and a token the explanation must name. Used by the checker's tests to show
that every rule has teeth on realistic histories, not only on hand-written ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class Injected:
    kind: str
    record: dict[str, Any]
    """The record changed or added (the proof must include it)."""
    token: str
    """A token the explanation must name."""


def inject(kind: str, records: Records, rng: random.Random) -> Injected | None:
    """Break one guarantee of kind ``kind`` in ``records`` (in place); None if no spot fits."""
    return INJECTORS[kind](records, rng)


def _reads_of_list(records: Records, session: str, writing_side: str) -> list[dict[str, Any]]:
    reading_side = "answerer" if writing_side == "offerer" else "offerer"
    return [r for r in records if r["op"] == "poll" and r["type"] == "ok"
            and r["session"] == session and r["side"] == reading_side]


def _writes(records: Records, op: str, kind: str = "ok") -> list[dict[str, Any]]:
    return [r for r in records if r["op"] == op and r["type"] == kind]


def _pick(rng: random.Random, items: list[Any]) -> Any:
    return rng.choice(items) if items else None


def lose_candidate(records: Records, rng: random.Random) -> Injected | None:
    """An acknowledged candidate vanishes from every read of its list."""
    spots = [w for w in _writes(records, "candidate")
             if any(r.get("final") and w["value"] in r["read"]["candidates"]
                    for r in _reads_of_list(records, w["session"], w["side"]))]
    write = _pick(rng, spots)
    if write is None:
        return None
    for read in _reads_of_list(records, write["session"], write["side"]):
        read["read"]["candidates"] = [c for c in read["read"]["candidates"] if c != write["value"]]
    return Injected("lost-candidate", write, write["value"])


def lose_answer(records: Records, rng: random.Random) -> Injected | None:
    """The final offerer read of an answered session reads the answer as null."""
    spots = [r for r in records if r["op"] == "poll" and r.get("final") and r["type"] == "ok"
             and r["side"] == "offerer" and r["read"]["answer"] is not None]
    read = _pick(rng, spots)
    if read is None:
        return None
    token = read["read"]["answer"]
    read["read"]["answer"] = None
    return Injected("lost-answer", read, token)


def conflict_answers(records: Records, rng: random.Random) -> Injected | None:
    """A second, different answer is acknowledged too."""
    answer = _pick(rng, _writes(records, "answer"))
    if answer is None:
        return None
    extra = dict(answer, value=answer["value"] + "Z", client=answer["client"] + "2",
                 t0=answer["t1"] + 1_000, t1=answer["t1"] + 2_000_000)
    records.insert(records.index(answer) + 1, extra)
    return Injected("conflicting-answers", extra, extra["value"])


def stale_read(records: Records, rng: random.Random) -> Injected | None:
    """A poll misses a candidate acknowledged on its host before it began (later reads show it)."""
    acked = {(w["session"], w["value"]): w for w in _writes(records, "candidate")}
    spots = []
    for read in records:
        if read["op"] != "poll" or read["type"] != "ok" or read.get("final"):
            continue
        shown = read["read"]["candidates"]
        before = [k for k, token in enumerate(shown)
                  if (w := acked.get((read["session"], token))) is not None
                  and w["host"] == read["host"] and w["t1"] < read["t0"]]
        if before:
            spots.append((read, before[-1]))
    spot = _pick(rng, spots)
    if spot is None:
        return None
    read, position = spot
    token = read["read"]["candidates"][position]
    del read["read"]["candidates"][position:]
    return Injected("stale-read", read, token)


def flicker(records: Records, rng: random.Random) -> Injected | None:
    """A candidate written indeterminately is shown, then missing from a later poll."""
    polls = [r for r in records if r["op"] == "poll" and r["type"] == "ok"
             and not r.get("final") and r["read"]["candidates"]]
    spots = []
    by_state: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for read in polls:
        key = (read["session"], read["side"], read["host"], tuple(read["read"]["candidates"]))
        by_state.setdefault(key, []).append(read)
    for same in by_state.values():
        same.sort(key=lambda r: r["t0"])
        spots += [(a, b) for a, b in zip(same, same[1:]) if a["t1"] < b["t0"]]
    spot = _pick(rng, spots)
    if spot is None:
        return None
    _earlier, later = spot
    token = later["read"]["candidates"].pop()
    for write in records:
        if write["op"] == "candidate" and write.get("value") == token:
            write.update(type="info", status=None, error="timeout")
    return Injected("non-monotonic-read", later, token)


def reorder(records: Records, rng: random.Random) -> Injected | None:
    """A poll returns the last two candidates of a list swapped (where another read of the list
    holds both, so that the two reads contradict each other)."""
    polls = [r for r in records if r["op"] == "poll" and r["type"] == "ok"]
    holding: dict[tuple[str, str, str, str], int] = {}
    for read in polls:
        shown = read["read"]["candidates"]
        for pair in set(zip(shown, shown[1:])):
            key = (read["session"], read["side"]) + pair
            holding[key] = holding.get(key, 0) + 1
    read = _pick(rng, [
        r for r in polls if len(set(r["read"]["candidates"])) >= 2
        and holding[(r["session"], r["side"]) + tuple(r["read"]["candidates"][-2:])] > 1])
    if read is None:
        return None
    shown = read["read"]["candidates"]
    shown[-1], shown[-2] = shown[-2], shown[-1]
    return Injected("incompatible-order", read, shown[-1])


def duplicate(records: Records, rng: random.Random) -> Injected | None:
    """A poll returns one candidate twice."""
    read = _pick(rng, [r for r in records if r["op"] == "poll" and r["type"] == "ok"
                       and r["read"]["candidates"]])
    if read is None:
        return None
    token = read["read"]["candidates"][0]
    read["read"]["candidates"].append(token)
    return Injected("duplicate", read, token)


def phantom(records: Records, rng: random.Random) -> Injected | None:
    """A final poll returns a candidate nobody wrote."""
    read = _pick(rng, [r for r in records if r["op"] == "poll" and r["type"] == "ok"
                       and r.get("final")])
    if read is None:
        return None
    token = f"ghost{rng.randrange(10**6)}"
    read["read"]["candidates"].append(token)
    return Injected("phantom", read, token)


def lose_session(records: Records, rng: random.Random) -> Injected | None:
    """A poll of a live session on the create's host answers 404."""
    left = {r["session"] for r in records if r["op"] == "leave"}
    creates = {r["session"]: r for r in _writes(records, "create") if r["session"] not in left}
    spots = [r for r in records if r["op"] == "poll" and r["type"] == "ok"
             and (c := creates.get(r["session"])) is not None
             and c["host"] == r["host"] and r["t0"] > c["t1"]]
    read = _pick(rng, spots)
    if read is None:
        return None
    read.update(type="fail", status=404, error="session not found")
    del read["read"]
    return Injected("lost-session", read, read["session"])


def break_write_order(records: Records, rng: random.Random) -> Injected | None:
    """A poll shows a client's later candidate without the one it acknowledged before."""
    by_client: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for write in _writes(records, "candidate"):
        by_client.setdefault((write["session"], write["client"]), []).append(write)
    spots = []
    for writes in by_client.values():
        writes.sort(key=lambda w: w["t0"])
        pairs = [(a, b) for a, b in zip(writes, writes[1:]) if a["t1"] < b["t0"]]
        if not pairs:
            continue
        reads = _reads_of_list(records, writes[0]["session"], writes[0]["side"])
        spots += [(read, a, b) for a, b in pairs for read in reads
                  if b["value"] in read["read"]["candidates"]]
    spot = _pick(rng, spots)
    if spot is None:
        return None
    read, earlier, later = spot
    read["read"]["candidates"].remove(earlier["value"])
    return Injected("monotonic-writes", read, later["value"])


def hide_answer(records: Records, rng: random.Random) -> Injected | None:
    """An offerer poll shows the answerer's candidates but reads its earlier answer as null."""
    answered = {(a["session"], a["client"]): a for a in _writes(records, "answer")}
    followers = {(w["session"], w["value"]) for w in records
                 if w["op"] == "candidate" and w["type"] != "fail" and w["side"] == "answerer"
                 and (a := answered.get((w["session"], w["client"]))) is not None
                 and a["t1"] < w["t0"]}
    spots = [r for r in records if r["op"] == "poll" and r["type"] == "ok"
             and r["side"] == "offerer" and r["read"]["answer"] is not None
             and any((r["session"], c) in followers for c in r["read"]["candidates"])]
    read = _pick(rng, spots)
    if read is None:
        return None
    token = next(c for c in read["read"]["candidates"] if (read["session"], c) in followers)
    read["read"]["answer"] = None
    return Injected("cross-object-read", read, token)


INJECTORS: dict[str, Callable[[Records, random.Random], Injected | None]] = {
    "lost-candidate": lose_candidate,
    "lost-answer": lose_answer,
    "conflicting-answers": conflict_answers,
    "stale-read": stale_read,
    "non-monotonic-read": flicker,
    "incompatible-order": reorder,
    "duplicate": duplicate,
    "phantom": phantom,
    "lost-session": lose_session,
    "monotonic-writes": break_write_order,
    "cross-object-read": hide_answer,
}
