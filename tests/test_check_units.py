"""Small pieces of the checker: lag percentiles, gates, how many examples are kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.checker import check_run, run_to_json
from analysis.checker.lag import summarize
from analysis.checker.result import EXAMPLES_KEPT, RunResult
from analysis.gates import Expectation, GateError, evaluate
from analysis.history import load_run
from support import CHECKER_CASES


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
                                   sessions=3))
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
