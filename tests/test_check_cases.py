"""The hand-written histories under tests/data/checker/: each run has an expected verdict.

Every anomaly type has at least one history that shows it and one near miss that must not be
reported (an indeterminate write that is absent, a read concurrent with a write, reads on two
hosts whose clocks cannot be compared...). ``expect.json`` in each folder says which and why.
"""

from __future__ import annotations

import json

import pytest

from analysis.checker import ANOMALY_TYPES, check_run, run_to_json
from analysis.checker.result import CAUSES, EXAMPLES_KEPT, LOST_ACROSS_CRASH
from analysis.history import load_run
from analysis.verdicts import ANOMALIES_FOUND
from support import CHECKER_CASES

CASE_NAMES = sorted(path.name for path in CHECKER_CASES.iterdir() if (path / "meta.json").is_file())


def expected(name: str) -> dict:
    return json.loads((CHECKER_CASES / name / "expect.json").read_text())


def history_lines(name: str) -> list[str]:
    """The case's operations, counted from its files (not through the loader): every line but
    the nemesis's fault records."""
    return [line for path in sorted((CHECKER_CASES / name / "history").glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["op"] != "fault"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_expect_json_names_only_real_anomaly_types(name: str) -> None:
    """A misspelt type in expect.json would be read as "0 expected" and pass unseen; so would
    a lost answer whose causes it forgot to give."""
    expect = expected(name)
    assert ("causes" in expect) == ("lost-answer" in expect["anomalies"])
    assert len(expect.get("causes", [])) == expect["anomalies"].get("lost-answer", 0)
    assert set(expect["anomalies"]) <= set(ANOMALY_TYPES), expect["anomalies"]
    assert expect["covers"] in ANOMALY_TYPES
    assert all(count > 0 for count in expect["anomalies"].values())
    if expect["near_miss"]:  # consistent, or at most a verdict that claims no anomaly
        assert expect["anomalies"] == {} and expect["verdict"] != ANOMALIES_FOUND
    else:
        assert expect["covers"] in expect["anomalies"] and expect["verdict"] == ANOMALIES_FOUND


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_has_exactly_the_expected_anomalies(name: str) -> None:
    expect = expected(name)
    run = run_to_json(check_run(load_run(CHECKER_CASES / name)))
    counts = {kind: run["anomalies"][kind]["count"] for kind in ANOMALY_TYPES}
    wanted = {kind: expect["anomalies"].get(kind, 0) for kind in ANOMALY_TYPES}
    assert counts == wanted, expect["why"]
    assert run["verdict"] == expect["verdict"]
    assert run["unverifiable"] == expect["unverifiable"]
    assert run["sessions"] == 1
    assert run["operations"] == len(history_lines(name)) > 0  # every line was read
    assert [fault["kind"] for fault in run["faults"]] == expect.get("faults", [])
    durability = {key: run["durability"][key]
                  for key in ("kills", "acknowledged_before", "lost_across")}
    assert durability == expect.get("durability", {"kills": 0, "acknowledged_before": 0,
                                                   "lost_across": 0}), expect["why"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_example_is_proven_by_records_of_the_history(name: str) -> None:
    expect = expected(name)
    run = run_to_json(check_run(load_run(CHECKER_CASES / name)))
    kept = {kind: len(found["examples"]) for kind, found in run["anomalies"].items()}
    # One example per anomaly (every case is far below the number kept): a near miss has none
    # to prove, an anomaly case one per anomaly its expect.json names, so the loop below runs.
    assert kept == {kind: min(expect["anomalies"].get(kind, 0), EXAMPLES_KEPT)
                    for kind in ANOMALY_TYPES}
    durability = run["durability"]
    assert len(durability["examples"]) == min(durability["lost_across"], EXAMPLES_KEPT)
    found = [*run["anomalies"].items(), (LOST_ACROSS_CRASH, durability)]
    for kind, found in found:
        for example in found["examples"]:
            assert example["type"] == kind
            assert example["explanation"]
            assert example["ops"], "an example is proven by records"
            for op in example["ops"]:
                lines = (CHECKER_CASES / name / op["file"]).read_text().splitlines()
                original = json.loads(lines[op["line"] - 1])
                assert {k: v for k, v in op.items() if k not in ("file", "line")} == original
            if kind == LOST_ACROSS_CRASH:  # the kill it was lost across, cited by its line
                fault = example["fault"]
                lines = (CHECKER_CASES / name / fault["file"]).read_text().splitlines()
                assert json.loads(lines[fault["line"] - 1])["kind"] == fault["kind"] == "kill"


def test_a_write_lost_across_a_kill_is_explained_with_the_kill_and_the_reads() -> None:
    durability = check_run(load_run(CHECKER_CASES / "lost-candidate.across-kill")).durability
    [example] = durability.examples
    assert example["explanation"] == (
        "candidate c2 of the offerer's list, written by offerer client h/1/u1/offerer, "
        "acknowledged at 0.230 s, before the kill at 1.000-1.500 s "
        "(history/nemesis-h-9.jsonl:1); the last read before the kill held it: the poll by "
        "answerer client h/2/u1/answerer at 0.300-0.310 s, reading candidates [c1, c2]; no "
        "read after the server came back shows it: the first, the poll by answerer client "
        "h/2/u1/answerer at 2.000-2.010 s, reading candidates [c1] (2 reads after the kill "
        "in all)")
    assert [(op["file"], op["line"]) for op in example["ops"]] == [
        ("history/h-1.jsonl", 4), ("history/h-1.jsonl", 5), ("history/h-1.jsonl", 6)]


LOST_ANSWER_CASES = [name for name in CASE_NAMES if "lost-answer" in expected(name)["anomalies"]]


@pytest.mark.parametrize("name", LOST_ANSWER_CASES)
def test_every_lost_answer_is_classified_and_its_culprit_named(name: str) -> None:
    """``causes`` in expect.json: per lost-answer example, in order, its cause and the line of
    the write that carried an erasure (null: none can be named); ``erased_by`` the counts."""
    expect = expected(name)
    found = run_to_json(check_run(load_run(CHECKER_CASES / name)))["anomalies"]["lost-answer"]
    causes = [{"cause": e["cause"], "culprit_line": (e["culprit"] or {}).get("line")}
              for e in found["examples"]]
    assert causes == expect["causes"], expect["why"]
    wanted = {cause: sum(1 for c in expect["causes"] if c["cause"] == cause)
              for cause in CAUSES}
    assert found["by_cause"] == wanted and found["erased_by"] == expect["erased_by"]
    for example in found["examples"]:
        if example["culprit"] is not None:  # the culprit is one of the proving records
            assert {(op["file"], op["line"]) for op in example["ops"]} >= {
                (example["culprit"]["file"], example["culprit"]["line"])}
            assert "the write that carried the erasure is" in example["explanation"]
        assert example["explanation"].count(example["cause"] + ":") == 1


def test_every_anomaly_type_has_a_case_and_a_near_miss() -> None:
    shown = {kind for name in CASE_NAMES for kind in expected(name)["anomalies"]}
    near = {expected(name)["covers"] for name in CASE_NAMES if expected(name)["near_miss"]}
    assert shown >= set(ANOMALY_TYPES)
    assert near >= set(ANOMALY_TYPES)


def test_lost_candidate_explanation_names_write_final_read_and_last_holder() -> None:
    result = check_run(load_run(CHECKER_CASES / "lost-candidate"))
    example = result.tallies["lost-candidate"].examples[0]
    assert example["explanation"] == (
        "candidate x7f of the offerer's list, written by offerer client h/1/u1/offerer, "
        "acknowledged at 0.207 s; the final read of the offerer's list at 8.100 s (by answerer "
        "client h/2/u1/answerer) does not hold it: it reads []; last read that held it: none"
    )
    assert [(op["op"], op["line"]) for op in example["ops"]] == [("candidate", 3), ("poll", 5)]


def test_stale_read_measures_the_visibility_lag() -> None:
    # x7f known at its acknowledgement (1.207 s); a poll at 2.000 s still missed it. The
    # answer a1, the other write, was never missed.
    lag = check_run(load_run(CHECKER_CASES / "stale-read")).lag_ms
    assert lag["count"] == 2
    assert (lag["p50"], lag["max"]) == (0.0, pytest.approx(793.0))


def test_correct_histories_have_no_lag() -> None:
    lag = check_run(load_run(CHECKER_CASES / "stale-read.near-concurrent-read")).lag_ms
    assert lag == {"count": 2, "p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
