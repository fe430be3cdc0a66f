"""Write the tiny comparison folder that tests/test_plots.py and tests/test_report*.py read.

Hand-designed, not recorded: three run folders (sqlite, rmw, kv) of two sessions each, with the
anomalies each store is known for placed where a person can see them (rmw loses a racing
candidate, kv overwrites an answer and serves a stale poll), and a ``check.json`` in the
checker's agreed format describing exactly those anomalies. Regenerate with
``python tests/data/plots/generate.py`` after changing it; the output is checked in so that the
tests never depend on the load tests or the checker.
"""

from __future__ import annotations

import json
from pathlib import Path

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
           "kv": {"edges": 4, "cache_ttl": 60.0, "write_interval": 1.0, "write_limit": "strict",
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


def session_ops(code: str, start: float, user: int, *, offerer_candidates: list[str],
                offerer_sees: list[tuple[float, str | None, list[str]]],
                answerer_sees: list[tuple[float, list[str]]], answer: str,
                answer_ms: float, cand_ms: float, read_ms: float) -> list[dict]:
    """One session: create, the answer, candidates, polls on both sides, then the final reads.

    Client times are the given ``*_ms``; the server's own time is 80 % of a write's and
    ``read_ms`` of a poll's (a poll's client time is one ms more).
    """
    off, ans = client(f"u{user}", "offerer"), client(f"u{user + 1}", "answerer")
    records = [op("create", code, off, start, start + answer_ms, value=f"o{code}",
                  server_ms=answer_ms * 0.8)]
    records.append(op("answer", code, ans, start + 50, start + 50 + answer_ms, side="answerer",
                      value=answer, server_ms=answer_ms * 0.8))
    for index, token in enumerate(offerer_candidates):
        t0 = start + 52 + 2 * index
        records.append(op("candidate", code, client(f"u{user}", f"ice{index}"), t0, t0 + cand_ms,
                          side="offerer", value=token, server_ms=cand_ms * 0.8))
    for t0, seen_answer, seen in offerer_sees:
        records.append(op("poll", code, off, start + t0, start + t0 + read_ms + 1,
                          side="offerer", read={"answer": seen_answer, "candidates": []},
                          final=t0 >= 2000, server_ms=read_ms))
    for t0, seen in answerer_sees:
        records.append(op("poll", code, ans, start + t0, start + t0 + read_ms + 1,
                          side="answerer", read={"offer": f"o{code}", "candidates": seen},
                          final=t0 >= 2000, server_ms=read_ms))
    return records


def build() -> dict[str, list[dict]]:
    """Histories per backend, in completion order."""
    polls = [300.0, 600.0, 900.0, 1200.0, 2000.0]
    runs: dict[str, list[dict]] = {}
    # sqlite: both sessions consistent; a second answerer is refused (409, a certain failure).
    sq = []
    for n, code in enumerate(("s1", "s2")):
        sq += session_ops(code, 400.0 * n, 1 + 2 * n, offerer_candidates=[f"c{code}a", f"c{code}b"],
                          offerer_sees=[(t, f"a{code}", []) for t in polls],
                          answerer_sees=[(t, [f"c{code}a", f"c{code}b"]) for t in polls],
                          answer=f"a{code}", answer_ms=3, cand_ms=3, read_ms=0.5)
    sq.append(op("answer", "s1", client("u9", "answerer"), 700, 704, side="answerer", value="ax",
                 type_="fail", status=409, error="session already answered", server_ms=1.2))
    runs["sqlite"] = sq
    # rmw: the two racing appends of r1 both succeed, the second overwrites the first.
    rm = session_ops("r1", 0.0, 1, offerer_candidates=["cr1a", "cr1b"],
                     offerer_sees=[(t, "ar1", []) for t in polls],
                     answerer_sees=[(t, ["cr1b"]) for t in polls],
                     answer="ar1", answer_ms=4, cand_ms=8, read_ms=0.7)
    rm += session_ops("r2", 400.0, 3, offerer_candidates=["cr2a"],
                      offerer_sees=[(t, "ar2", []) for t in polls],
                      answerer_sees=[(t, ["cr2a"]) for t in polls],
                      answer="ar2", answer_ms=4, cand_ms=5, read_ms=0.7)
    runs["rmw"] = rm
    # kv: in k1 an ICE update writes back a copy without the answer (lost-answer); in k2 the
    # answerer polls a stale edge copy at 300 ms, then sees the candidate from 600 ms on.
    kv = session_ops("k1", 0.0, 1, offerer_candidates=["ck1a"],
                     offerer_sees=[(t, None, []) for t in polls],
                     answerer_sees=[(t, ["ck1a"]) for t in polls],
                     answer="ak1", answer_ms=9, cand_ms=12, read_ms=2.5)
    kv += session_ops("k2", 400.0, 3, offerer_candidates=["ck2a"],
                      offerer_sees=[(t, "ak2", []) for t in polls],
                      answerer_sees=[(t, [] if t < 600 else ["ck2a"]) for t in polls],
                      answer="ak2", answer_ms=9, cand_ms=12, read_ms=2.5)
    kv.append(op("candidate", "k2", client("u3", "ice1"), 455, 470, side="offerer", value="ck2b",
                 type_="info", status=500, error="KV PUT failed: 429 Too Many Requests",
                 server_ms=11.0))
    runs["kv"] = kv
    return {name: sorted(records, key=lambda r: r["t1"]) for name, records in runs.items()}


def proving(records: list[dict], *keys: tuple[str, str, str, float]) -> list[dict]:
    """The records that prove an anomaly, as the checker reports them (plus file and line)."""
    found = []
    for line, record in enumerate(records, start=1):
        for kind, session, side, t0_ms in keys:
            if (record["op"], record["session"], record["side"], record["t0"]) == (
                    kind, session, side, BASE_NS + int(t0_ms * 1_000_000)):
                found.append({**record, "file": HISTORY_FILE, "line": line})
    return found


ANOMALIES = {
    "rmw": {"lost-candidate": ("r1", "offerer candidate cr1a was acknowledged at 60 ms but is "
                               "absent from every answerer poll, the final one included",
                               [("candidate", "r1", "offerer", 52), ("poll", "r1", "answerer", 300),
                                ("poll", "r1", "answerer", 2000)])},
    "kv": {"lost-answer": ("k1", "answer ak1 was acknowledged at 59 ms but the offerer's final "
                           "poll reads the answer as null",
                           [("answer", "k1", "answerer", 50), ("candidate", "k1", "offerer", 52),
                            ("poll", "k1", "offerer", 2000)]),
           "stale-read": ("k2", "answerer poll at 700 ms began after candidate ck2a was "
                          "acknowledged (464 ms) but did not show it; it showed from 1000 ms",
                          [("candidate", "k2", "offerer", 452), ("poll", "k2", "answerer", 700),
                           ("poll", "k2", "answerer", 1000)])},
}
LOCUST_FAILURES = {"kv": "Method,Name,Error,Occurrences\n"
                          "POST,candidate,500: KV PUT failed: 429 Too Many Requests,1\n"}
"""Locust's failure table (``--csv``) where a run had failures."""
TYPES = ("lost-candidate", "lost-answer", "conflicting-answers", "stale-read",
         "non-monotonic-read", "incompatible-order", "duplicate", "phantom", "lost-session")
LAG = {"sqlite": [1.0, 2.0, 2.5, 3.0, 3.0], "rmw": [2.0, 4.0, 5.0, 6.0, 6.0],
       "kv": [30.0, 240.0, 280.0, 300.0, 300.0]}


def check_entry(name: str, records: list[dict], meta: dict) -> dict:
    anomalies = {kind: {"count": 0, "sessions": 0, "examples": []} for kind in TYPES}
    for kind, (session, explanation, keys) in ANOMALIES.get(name, {}).items():
        anomalies[kind] = {"count": 1, "sessions": 1, "examples": [{
            "type": kind, "session": session, "explanation": explanation,
            "ops": proving(records, *keys)}]}
    p50, p90, p95, p99, top = LAG[name]
    found = ANOMALIES.get(name, {})
    sessions = len({r["session"] for r in records})
    live = [r for r in records if not r["final"]]
    refused = sum(1 for r in live if r["type"] != "ok"
                  and not (r["op"] == "answer" and r["status"] == 409))
    reason = (f"{len(found)} anomal{'y' if len(found) == 1 else 'ies'} proven: "
              + ", ".join(f"1 {kind}" for kind in sorted(found)) if found else
              f"no anomaly in {len(records)} operations; {sessions} of {sessions} sessions with "
              "an acknowledged write verified after settling")
    return {"run": meta["run"], "path": name, "backend": name, "meta": meta,
            "operations": len(records), "sessions": sessions,
            "unverifiable": 0,
            "server_errors": sum(1 for r in records if (r["status"] or 0) >= 500),
            "coverage": {"under_load": len(live), "refused": refused,
                         "server_errors": sum(1 for r in live if (r["status"] or 0) >= 500),
                         "no_response": 0, "written": sessions, "verified": sessions, "left": 0},
            "min_verified": 0.5,
            "verdict": "anomalies found" if found else "consistent", "reason": reason,
            "anomalies": anomalies,
            "lag_ms": {"count": 4, "p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": top}}


def main() -> None:
    entries = []
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
        entries.append(check_entry(name, records, meta))
    verdict = "anomalies found" if any(e["verdict"] != "consistent" for e in entries) \
        else "consistent"
    check = {"format": 1, "verdict": verdict, "gates": [], "runs": entries}
    (HERE / "check.json").write_text(json.dumps(check, indent=1) + "\n")


if __name__ == "__main__":
    main()
