"""Write the tiny comparison folder that tests/test_plots.py and tests/test_report*.py read.

Hand-designed, not recorded: three run folders (sqlite, rmw, kv) with the anomalies placed where
a person can see them, every one of the checker's types at least once, so that every figure,
table row and timeline has something to show:

- sqlite: two consistent sessions and a refused second answer (409, a certain failure);
- rmw: in r1 two racing appends, the second overwriting the first (lost-candidate); in r3 a
  second answer that replaces the first, both acknowledged (conflicting-answers, lost-answer);
- kv: in k1 an ICE update writes back a copy without the answer (lost-answer); in k2 a poll
  served a stale edge copy (stale-read); k3 to k8 show the remaining types one per session
  (non-monotonic-read; monotonic-writes with the incompatible-order it implies; duplicate;
  phantom; lost-session; cross-object-read). Duplicate and phantom are no store's known
  failing: they are in kv only so that the fixture holds every type. Two kv writes are refused
  with a 500 (KV's per-key write limit), so kv has 5xx responses (``server_errors``).

``check.json`` is the checker's own output on these histories, written only after the checker
found exactly the anomalies designed here (:data:`DESIGNED`); a test re-runs the checker and
holds it to the checked-in file. Regenerate with ``python tests/data/plots/generate.py`` after
changing it; the output is checked in so that the plot and report tests never depend on the
load tests, and read the checker's verdicts from a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from analysis.checker import ANOMALY_TYPES, check_run, run_to_json, to_json
from analysis.history import load_run

HERE = Path(__file__).resolve().parent
HOST = "h1-boot1"
PID = 100
BASE_NS = 5_000_000_000_000
TIME_SCALE = 0.1
HISTORY_FILE = f"history/{HOST}-{PID}.jsonl"

SERVER = {
    "sqlite": {"backend": "sqlite", "time_scale": TIME_SCALE, "session_ttl": 300000},
    "rmw": {"backend": "rmw", "time_scale": TIME_SCALE, "session_ttl": 300000},
    "kv": {"backend": "kv", "time_scale": TIME_SCALE, "session_ttl": 300000,
           "kv": {"edges": 4, "cache_ttl": 60.0, "write_interval": 1.0, "write_limit": "burst",
                  "write_burst": 10,
                  "reroute": 0.0, "hot_read_ms": 2.0, "cold_read_ms": 40.0, "write_ms": 50.0}},
}


def client(user: str, role: str) -> str:
    return f"{HOST}/{PID}/{user}/{role}"


def op(kind: str, session: str, who: str, t0_ms: float, t1_ms: float, *, side: str | None = None,
       value: str | None = None, read: dict | None = None, type_: str = "ok",
       status: int | None = 200, error: str | None = None, final: bool = False,
       server_ms: float | None = None) -> dict:
    record = {
        "op": kind, "session": session, "side": side, "client": who, "value": value,
        "t0": BASE_NS + int(t0_ms * 1_000_000), "t1": BASE_NS + int(t1_ms * 1_000_000),
        "host": HOST, "status": status, "type": type_, "read": read, "final": final,
        "error": error, "scenario": "pair",
    }
    if server_ms is not None:
        record["server_ms"] = server_ms
    return record


KV_REFUSED = "KV PUT failed: 429 Too Many Requests"
FINAL_MS = 2000.0
"""When (after a session's start) both sides' final reads are taken, after every session's load."""


def opened(code: str, start: float, user: int, *, answer: bool = True,
           write_ms: float = 9.0) -> tuple[str, str, list[dict]]:
    """A session's offerer and answerer clients, its create and (unless told not) its answer
    ``a<code>``; the server's own time is 80 % of a write's client time."""
    off, ans = client(f"u{user}", "offerer"), client(f"u{user + 1}", "answerer")
    records = [op("create", code, off, start, start + write_ms, value=f"o{code}",
                  server_ms=write_ms * 0.8)]
    if answer:
        records.append(op("answer", code, ans, start + 50, start + 50 + write_ms,
                          side="answerer", value=f"a{code}", server_ms=write_ms * 0.8))
    return off, ans, records


def offerer_poll(code: str, who: str, t0: float, t1: float, answer: str | None,
                 seen: list[str], *, read_ms: float = 2.5, final: bool = False) -> dict:
    """An offerer's poll: it reads the answer and the answerer's list."""
    return op("poll", code, who, t0, t1, side="offerer", final=final, server_ms=read_ms,
              read={"answer": answer, "candidates": list(seen)})


def answerer_poll(code: str, who: str, t0: float, t1: float, seen: list[str], *,
                  read_ms: float = 2.5, final: bool = False) -> dict:
    """An answerer's poll: it reads the offer and the offerer's list."""
    return op("poll", code, who, t0, t1, side="answerer", final=final, server_ms=read_ms,
              read={"offer": f"o{code}", "candidates": list(seen)})


def final_reads(code: str, start: float, off: str, ans: str, *, answer: str | None,
                offerer_list: list[str], answerer_list: list[str] = (), read_ms: float = 2.5
                ) -> list[dict]:
    """Both sides' final polls, :data:`FINAL_MS` after the session's start."""
    t0 = start + FINAL_MS
    t1 = t0 + read_ms + 1
    return [offerer_poll(code, off, t0, t1, answer, answerer_list, read_ms=read_ms, final=True),
            answerer_poll(code, ans, t0, t1, offerer_list, read_ms=read_ms, final=True)]


def session_ops(code: str, start: float, user: int, *, offerer_candidates: list[str],
                offerer_sees: list[tuple[float, str | None]],
                answerer_sees: list[tuple[float, list[str]]],
                answer_ms: float, cand_ms: float, read_ms: float) -> list[dict]:
    """One session: create, the answer, candidates (one ICE lane each), polls on both sides
    at the given times (``>= FINAL_MS``: the final reads).

    Client times are the given ``*_ms``; the server's own time is 80 % of a write's and
    ``read_ms`` of a poll's (a poll's client time is one ms more).
    """
    off, ans, records = opened(code, start, user, write_ms=answer_ms)
    for index, token in enumerate(offerer_candidates):
        t0 = start + 52 + 2 * index
        records.append(op("candidate", code, client(f"u{user}", f"ice{index}"), t0, t0 + cand_ms,
                          side="offerer", value=token, server_ms=cand_ms * 0.8))
    for t0, seen_answer in offerer_sees:
        records.append(offerer_poll(code, off, start + t0, start + t0 + read_ms + 1, seen_answer,
                                    [], read_ms=read_ms, final=t0 >= FINAL_MS))
    for t0, seen in answerer_sees:
        records.append(answerer_poll(code, ans, start + t0, start + t0 + read_ms + 1, seen,
                                     read_ms=read_ms, final=t0 >= FINAL_MS))
    return records


def two_answers(code: str, start: float, user: int) -> list[dict]:
    """rmw: a second answerer's answer replaces the first; both were acknowledged."""
    off, first, records = opened(code, start, user, answer=False, write_ms=4.0)
    second = client(f"u{user + 2}", "answerer")
    records += [op("answer", code, first, start + 50, start + 54, side="answerer",
                   value=f"a{code}", server_ms=3.2),
                op("answer", code, second, start + 60, start + 64, side="answerer",
                   value=f"a{code}x", server_ms=3.2)]
    records += [offerer_poll(code, off, start + t, start + t + 1.7, f"a{code}x", [], read_ms=0.7)
                for t in (300.0, 600.0)]
    return records + final_reads(code, start, off, first, answer=f"a{code}x", offerer_list=[],
                                 read_ms=0.7)


def kv_session(code: str, start: float, user: int,
               middle: Callable[[str, str], list[dict]], *, offerer_list: list[str],
               answerer_list: list[str] = ()) -> list[dict]:
    """A kv session written out by hand: create and answer, ``middle(offerer, answerer)``, and
    final reads of the answer and of the two lists as given."""
    off, ans, records = opened(code, start, user)
    return records + middle(off, ans) + final_reads(
        code, start, off, ans, answer=f"a{code}", offerer_list=offerer_list,
        answerer_list=answerer_list)


def remaining_types() -> list[dict]:
    """kv sessions k3 to k8, one (k4: two) of the remaining anomaly types each."""
    return [
        # k3, non-monotonic-read: a slow append (acknowledged 1500 ms after the session's
        # start) is shown at 600 ms, missing again at 900 ms (another edge's copy), then shown.
        *kv_session("k3", 100.0, 5, lambda off, ans: [
            op("candidate", "k3", client("u5", "ice0"), 152, 1600, side="offerer",
               value="ck3a", server_ms=1400.0),
            *(answerer_poll("k3", ans, 100 + t, 100 + t + 3.5, seen) for t, seen in (
                (300.0, []), (600.0, ["ck3a"]), (900.0, []), (1200.0, ["ck3a"])))],
            offerer_list=["ck3a"]),
        # k4, monotonic-writes: the offerer appends ck4a, then (once acknowledged) ck4b; a poll
        # running across both shows ck4b alone, and every later read puts ck4b first: against
        # real time, an incompatible-order too.
        *kv_session("k4", 150.0, 7, lambda off, ans: [
            op("candidate", "k4", off, 202, 210, side="offerer", value="ck4a", server_ms=6.4),
            op("candidate", "k4", off, 220, 230, side="offerer", value="ck4b", server_ms=8.0),
            answerer_poll("k4", ans, 205, 240, ["ck4b"]),
            answerer_poll("k4", ans, 450, 453.5, ["ck4b", "ck4a"])],
            offerer_list=["ck4b", "ck4a"]),
        # k5, duplicate: ck5a was written once and is read twice in one list.
        *kv_session("k5", 200.0, 9, lambda off, ans: [
            op("candidate", "k5", client("u9", "ice0"), 252, 264, side="offerer",
               value="ck5a", server_ms=9.6),
            answerer_poll("k5", ans, 500, 503.5, ["ck5a", "ck5a"])],
            offerer_list=["ck5a", "ck5a"]),
        # k6, phantom: zz6 was never written; ck6b was refused by the write limit (a 500) and
        # is never shown.
        *kv_session("k6", 250.0, 11, lambda off, ans: [
            op("candidate", "k6", client("u11", "ice0"), 302, 314, side="offerer",
               value="ck6a", server_ms=9.6),
            op("candidate", "k6", client("u11", "ice1"), 305, 318, side="offerer",
               value="ck6b", type_="info", status=500, error=KV_REFUSED, server_ms=10.4),
            answerer_poll("k6", ans, 550, 553.5, ["ck6a", "zz6"])],
            offerer_list=["ck6a", "zz6"]),
        # k7, lost-session: an edge that cached "not found" answers the offerer's poll with
        # 404 long before the session could expire.
        *kv_session("k7", 300.0, 13, lambda off, ans: [
            op("poll", "k7", off, 600, 603.5, side="offerer", type_="fail", status=404,
               error="session not found", server_ms=2.5)],
            offerer_list=[]),
        # k8, cross-object-read: the answerer's candidate ca8a, sent after its answer was
        # acknowledged, is shown by an offerer poll that reads the answer as null.
        *kv_session("k8", 350.0, 15, lambda off, ans: [
            op("candidate", "k8", ans, 420, 430, side="answerer", value="ca8a", server_ms=8.0),
            offerer_poll("k8", off, 405, 440, None, ["ca8a"])],
            offerer_list=[], answerer_list=["ca8a"]),
    ]


def build() -> dict[str, list[dict]]:
    """Histories per backend, in completion order."""
    polls = [300.0, 600.0, 900.0, 1200.0, 2000.0]
    runs: dict[str, list[dict]] = {}
    # sqlite: both sessions consistent; a second answerer is refused (409, a certain failure).
    sq = []
    for n, code in enumerate(("s1", "s2")):
        sq += session_ops(code, 400.0 * n, 1 + 2 * n, offerer_candidates=[f"c{code}a", f"c{code}b"],
                          offerer_sees=[(t, f"a{code}") for t in polls],
                          answerer_sees=[(t, [f"c{code}a", f"c{code}b"]) for t in polls],
                          answer_ms=3, cand_ms=3, read_ms=0.5)
    sq.append(op("answer", "s1", client("u9", "answerer"), 700, 704, side="answerer", value="ax",
                 type_="fail", status=409, error="session already answered", server_ms=1.2))
    runs["sqlite"] = sq
    # rmw: the two racing appends of r1 both succeed, the second overwrites the first.
    rm = session_ops("r1", 0.0, 1, offerer_candidates=["cr1a", "cr1b"],
                     offerer_sees=[(t, "ar1") for t in polls],
                     answerer_sees=[(t, ["cr1b"]) for t in polls],
                     answer_ms=4, cand_ms=8, read_ms=0.7)
    rm += session_ops("r2", 400.0, 3, offerer_candidates=["cr2a"],
                      offerer_sees=[(t, "ar2") for t in polls],
                      answerer_sees=[(t, ["cr2a"]) for t in polls],
                      answer_ms=4, cand_ms=5, read_ms=0.7)
    rm += two_answers("r3", 200.0, 5)
    runs["rmw"] = rm
    # kv: in k1 an ICE update writes back a copy without the answer (lost-answer); in k2 the
    # answerer polls a stale edge copy at 300 ms, then sees the candidate from 600 ms on.
    kv = session_ops("k1", 0.0, 1, offerer_candidates=["ck1a"],
                     offerer_sees=[(t, None) for t in polls],
                     answerer_sees=[(t, ["ck1a"]) for t in polls],
                     answer_ms=9, cand_ms=12, read_ms=2.5)
    kv += session_ops("k2", 400.0, 3, offerer_candidates=["ck2a"],
                      offerer_sees=[(t, "ak2") for t in polls],
                      answerer_sees=[(t, [] if t < 600 else ["ck2a"]) for t in polls],
                      answer_ms=9, cand_ms=12, read_ms=2.5)
    kv.append(op("candidate", "k2", client("u3", "ice1"), 455, 470, side="offerer", value="ck2b",
                 type_="info", status=500, error=KV_REFUSED, server_ms=11.0))
    kv += remaining_types()
    runs["kv"] = kv
    return {name: sorted(records, key=lambda r: r["t1"]) for name, records in runs.items()}


DESIGNED = {
    "sqlite": {},
    "rmw": {"lost-candidate": 1, "conflicting-answers": 1, "lost-answer": 1},
    "kv": {"lost-answer": 1, "stale-read": 1, "non-monotonic-read": 1, "incompatible-order": 1,
           "monotonic-writes": 1, "duplicate": 1, "phantom": 1, "lost-session": 1,
           "cross-object-read": 1},
}
"""The anomalies each run was designed to hold; the checker must find exactly these."""


def checked(name: str) -> dict:
    """The checker's entry for one written run, its path relative to the comparison folder,
    after making sure it found exactly the designed anomalies."""
    entry = run_to_json(check_run(load_run(HERE / name)))
    found = {kind: a["count"] for kind, a in entry["anomalies"].items() if a["count"]}
    if found != DESIGNED[name]:
        sys.exit(f"{name}: the checker found {found}, the design says {DESIGNED[name]}")
    return {**entry, "path": name}


LOCUST_FAILURES = {"kv": "Method,Name,Error,Occurrences\n"
                         "POST,candidate,500: KV PUT failed: 429 Too Many Requests,2\n"}
"""Locust's failure table (``--csv``) where a run had failures: kv's two refused writes."""


def main() -> None:
    assert {kind for kinds in DESIGNED.values() for kind in kinds} == set(ANOMALY_TYPES)
    for name, records in build().items():
        folder = HERE / name
        (folder / "history").mkdir(parents=True, exist_ok=True)
        (folder / "locust").mkdir(exist_ok=True)
        (folder / "locust" / "README").write_text("Locust's output would be here.\n")
        if name in LOCUST_FAILURES:
            (folder / "locust" / "locust_failures.csv").write_text(LOCUST_FAILURES[name])
        meta = {"format": 1, "run": f"plots-{name}", "backend": name,
                "target": "http://127.0.0.1:8080", "scenarios": ["pair"], "users": 4,
                "spawn_rate": 4, "duration_s": 2, "settle_s": 0.5, "time_scale": TIME_SCALE,
                "started": "2026-11-26T10:00:00+00:00", "server": SERVER[name],
                "software": {"python": "3.11", "locust": "2.x"}}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        (folder / HISTORY_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    check = to_json([checked(name) for name in sorted(DESIGNED)])
    (HERE / "check.json").write_text(json.dumps(check, indent=1) + "\n")


if __name__ == "__main__":
    main()
