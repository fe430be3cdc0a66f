"""Small pieces of the checker: lag percentiles, gates, how many examples are kept, the
evidence a verdict needs, and what a user felt (handshakes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.availability import availability
from analysis.checker import check_run, run_to_json
from analysis.checker.evidence import Coverage, verdict
from analysis.checker.lag import summarize
from analysis.checker.result import EXAMPLES_KEPT, RunResult
from analysis.gates import Expectation, GateError, evaluate
from analysis.history import load_run
from analysis.verdicts import ANOMALIES_FOUND, CONSISTENT, INCONCLUSIVE
from support import CHECKER_CASES, loaded_run, record


def test_lag_percentiles_are_nearest_rank_in_milliseconds() -> None:
    lags = [0] * 90 + [k * 1_000_000 for k in range(1, 11)]
    assert summarize(lags) == {"count": 100, "p50": 0.0, "p90": 0.0, "p95": 5.0, "p99": 9.0,
                               "max": 10.0}
    assert summarize([]) == {"count": 0, "p50": None, "p90": None, "p95": None, "p99": None,
                             "max": None}


def test_expectations_parse_bare_and_per_backend() -> None:
    assert Expectation.parse("consistent") == Expectation(None, "consistent")
    assert Expectation.parse("kv=anomalies") == Expectation("kv", "anomalies")
    assert Expectation.parse("rmw=lost-writes") == Expectation("rmw", "lost-writes")
    with pytest.raises(GateError, match="say consistent, anomalies, lost-writes"):
        Expectation.parse("kv=broken")


def test_a_gate_matches_backend_run_id_or_folder() -> None:
    result = run_to_json(RunResult(name="r7", path="/x/cmp/kv-folder", backend="kv", meta={},
                                   sessions=3,
                                   coverage=Coverage(under_load=9, written=3, verified=3)))
    for selector in ("kv", "r7", "kv-folder"):
        gates = evaluate([Expectation(selector, "consistent")], [result])
        assert [(g.run, g.backend, g.expect, g.passed) for g in gates] == [
            ("r7", "kv", "consistent", True)]
    # No session verified: too little evidence to call a run consistent.
    empty = run_to_json(RunResult(name="r8", path="/x/cmp/empty", backend="kv", meta={}))
    assert evaluate([Expectation("r8", "consistent")], [empty])[0].passed is False
    with pytest.raises(GateError, match="no run has"):
        evaluate([Expectation("sqlite", "consistent")], [result])


def test_only_the_first_examples_are_kept_but_all_are_counted(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(CHECKER_CASES / "phantom", tmp_path / "many"))
    history = folder / "history" / "h-1.jsonl"
    lines = history.read_text().splitlines()
    poll = json.loads(next(line for line in lines if '"zz9"' in line))
    extra = []
    for k in range(EXAMPLES_KEPT + 3):
        poll = dict(poll, session=f"s{k + 2}", read={"offer": "o1", "candidates": [f"ghost{k}"]})
        extra.append(json.dumps(poll))
    history.write_text("\n".join(lines + extra) + "\n")
    tally = check_run(load_run(folder)).tallies["phantom"]
    assert tally.count == EXAMPLES_KEPT + 4
    assert len(tally.sessions) == EXAMPLES_KEPT + 4
    assert len(tally.examples) == EXAMPLES_KEPT


def test_a_verdict_needs_evidence_and_says_why_in_one_line() -> None:
    enough = Coverage(under_load=100, refused=10, written=10, verified=6, left=3)
    assert verdict({}, enough, 120, 0.5) == (
        CONSISTENT, "no anomaly in 120 operations; 6 of 10 sessions with an acknowledged write "
                    "verified after settling")
    assert verdict({}, enough, 120, 0.75) == (
        INCONCLUSIVE, "6 of 10 sessions could be verified (at least 75% needed): 3 were left "
                      "before the final reads; 1 was not read after settling (no final read "
                      "answered)")
    silent = Coverage(under_load=4114, no_response=4114)
    assert verdict({}, silent, 4114, 0.5) == (
        INCONCLUSIVE, "no session could be verified: 4,114 of 4,114 requests got no response")
    failing = Coverage(under_load=100, refused=40, server_errors=30, no_response=20, written=5,
                       verified=5)
    assert verdict({}, failing, 100, 0.5) == (
        INCONCLUSIVE, "5 of 5 sessions could be verified, but 60 of 100 requests failed (20 got "
                      "no response, 30 were answered 5xx, 10 were refused with a 4xx)")
    # A proof is a proof: anomalies win over thin evidence.
    assert verdict({"lost-answer": 1, "stale-read": 3}, silent, 4114, 0.5) == (
        ANOMALIES_FOUND, "4 anomalies proven: 3 stale-read, 1 lost-answer")


def test_a_409_to_a_second_answer_is_the_protocol_working_not_a_failure() -> None:
    coverage = Coverage()
    for answer in [record(op="answer", type="ok", status=200),
                   *[record(op="answer", type="fail", status=409)] * 3]:
        coverage.count(answer)
    assert (coverage.under_load, coverage.refused, coverage.failed) == (4, 0, 0)


def op(kind: str, client: str, t0: int, t1: int, **fields: object) -> dict[str, object]:
    return {"op": kind, "client": client, "t0": t0 * 1_000_000, "t1": t1 * 1_000_000,
            "host": "h:b", "type": "ok", "status": 200, "session": "s1", **fields}


def test_a_handshake_completes_when_both_peers_got_the_other_side_and_a_candidate() -> None:
    offerer, answerer = "h/1/u1/offerer", "h/1/u1/answerer"
    records = [
        op("create", offerer, 0, 10, value="o1"),
        op("candidate", offerer + ".2", 20, 30, side="offerer", value="c1"),
        op("answer", answerer, 100, 110, side="answerer", value="a1"),
        op("candidate", answerer + ".2", 120, 130, side="answerer", value="c2"),
        # the offerer sees the answer first without a candidate, then with one
        op("poll", offerer, 200, 210, side="offerer", read={"answer": "a1", "candidates": []}),
        op("poll", offerer + ".3", 300, 320, side="offerer",
           read={"answer": "a1", "candidates": ["c2"]}),
        op("poll", answerer + ".3", 400, 450, side="answerer",
           read={"offer": "o1", "candidates": ["c1"]}),
        # a second session whose answerer never heard back, and an offer that failed at once
        op("create", "h/1/u2/offerer", 0, 10, session="s2", value="o2"),
        op("candidate", "h/1/u2/offerer", 20, 30, session="s2", side="offerer", value="c3"),
        op("create", "h/1/u3/offerer", 0, 10, session=None, type="info", status=None,
           error="connection refused"),
        # an answer race: no candidate sent, so not a call
        op("create", "h/1/u4/offerer", 0, 10, session="s4", value="o4"),
        op("answer", "h/1/u4/answerer-2", 50, 60, session="s4", side="answerer", value="a9",
           type="fail", status=409, error="already answered"),
        # final reads are not what a user waited for
        op("poll", "h/1/0/final-x", 900, 910, session="s2", side="offerer", final=True,
           read={"answer": "a7", "candidates": ["c8"]}),
    ]
    found = availability(loaded_run(records).records)
    assert (found.handshakes.started, found.handshakes.completed) == (3, 1)
    assert found.handshakes.durations_ms == [450.0]
    assert found.protocol_refusals == 1 and found.refused_writes == []
    assert found.no_response == [("connection refused", 1)]
