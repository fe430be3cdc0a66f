"""``python -m analysis check`` run as a subprocess on the checked-in histories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from analysis.checker import ANOMALY_TYPES
from support import CHECKER_CASES
from support.commands import check


def comparison(tmp_path: Path, **backends: str) -> Path:
    """A comparison folder holding one copied case per backend."""
    for backend, case in backends.items():
        folder = Path(shutil.copytree(CHECKER_CASES / case, tmp_path / backend))
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "backend": backend,
                                                      "run": f"run-{backend}"}))
    return tmp_path


def test_a_lost_write_is_explained_and_exits_1() -> None:
    done = check(CHECKER_CASES / "lost-candidate")
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "run lost-candidate (backend handwritten)" in out
    assert "checked 5 operations in 1 sessions (0 unverifiable" in out
    assert "  lost-candidate             1         1\n" in out
    assert "  stale-read                 0         0\n" in out
    assert "candidate x7f of the offerer's list, written by offerer client h/1/u1/offerer," in out
    assert "last read that held it: none" in out
    assert "verdict: anomalies found" in out
    assert out.rstrip().endswith("overall: anomalies found (exit 1)")


def test_an_erased_answer_names_the_candidate_update_that_erased_it() -> None:
    done = check(CHECKER_CASES / "lost-answer.erased-by-candidate")
    assert done.returncode == 1, done.stderr
    assert ("  lost-answer by cause: 1 erased (by offerer-candidate 1, answerer-candidate 0, "
            "unknown 0), 0 overwritten\n") in done.stdout
    text = " ".join(done.stdout.split())  # the explanations are wrapped
    assert ("erased: the session ended with no answer; the write that carried the erasure is "
            "the offerer's ICE candidate update x1, written by offerer client h/1/u1/offerer, "
            "acknowledged at 0.500 s") in text


def test_a_consistent_run_exits_0() -> None:
    done = check(CHECKER_CASES / "stale-read.near-concurrent-read")
    assert done.returncode == 0, done.stderr
    assert "verdict: consistent" in done.stdout
    lag = "visibility lag (ms): 2 writes, p50 0.0, p90 0.0, p95 0.0, p99 0.0, max 0.0"
    assert lag in done.stdout


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "out" / "check.json"
    done = check(CHECKER_CASES / "conflicting-answers", CHECKER_CASES / "lost-candidate.near-indeterminate-absent",
                 "--json", out)
    assert done.returncode == 1
    document = json.loads(out.read_text())
    assert document["format"] == 1
    assert document["verdict"] == "anomalies found"
    assert document["gates"] == []
    first, second = document["runs"]
    assert set(first) >= {"run", "path", "backend", "meta", "operations", "sessions",
                          "unverifiable", "verdict", "anomalies", "lag_ms"}
    assert list(first["anomalies"]) == list(ANOMALY_TYPES)
    assert first["anomalies"]["conflicting-answers"]["count"] == 1
    lost = first["anomalies"]["lost-answer"]
    assert (lost["count"], lost["sessions"], len(lost["examples"])) == (1, 1, 1)
    # a1 (line 2) was acknowledged, then the offerer's final poll (line 4) read a2.
    assert lost["examples"][0]["session"] == "s1"
    assert [(op["op"], op.get("value"), op["line"]) for op in lost["examples"][0]["ops"]] == [
        ("answer", "a1", 2), ("poll", None, 4)]
    assert (lost["examples"][0]["cause"], lost["examples"][0]["culprit"]) == ("overwritten", None)
    assert lost["by_cause"] == {"erased": 0, "overwritten": 1}
    assert lost["erased_by"] == {"offerer-candidate": 0, "answerer-candidate": 0, "unknown": 0}
    assert "by_cause" not in first["anomalies"]["lost-candidate"]  # only lost answers have one
    example = first["anomalies"]["conflicting-answers"]["examples"][0]
    assert example["session"] == "s1"
    assert [(op["value"], op["file"], op["line"]) for op in example["ops"]] == [
        ("a1", "history/h-1.jsonl", 2), ("a2", "history/h-1.jsonl", 3)]
    assert second["verdict"] == "consistent"
    assert {kind: found["count"] for kind, found in second["anomalies"].items()} == dict.fromkeys(
        ANOMALY_TYPES, 0)
    assert set(second["lag_ms"]) == {"count", "p50", "p90", "p95", "p99", "max"}


def test_gates_per_backend_pass_in_both_directions(tmp_path: Path) -> None:
    folder = comparison(tmp_path, sqlite="lost-candidate.near-indeterminate-absent",
                        kv="lost-candidate")
    out = tmp_path / "check.json"
    done = check(folder, "--expect", "sqlite=consistent", "--expect", "kv=anomalies",
                 "--json", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run-kv (backend kv) expected anomalies: passed" in done.stdout
    gates = json.loads(out.read_text())["gates"]
    assert [(g["run"], g["backend"], g["expect"], g["passed"]) for g in gates] == [
        ("run-sqlite", "sqlite", "consistent", True),
        ("run-kv", "kv", "anomalies", True),
    ]
    assert gates[1]["message"] == "known to misbehave, and caught: 1 lost-candidate"


def test_a_failed_gate_exits_1(tmp_path: Path) -> None:
    folder = comparison(tmp_path, sqlite="stale-read", kv="lost-candidate")
    done = check(folder, "--expect", "sqlite=consistent", "--expect", "kv=anomalies")
    assert done.returncode == 1
    assert "run-sqlite (backend sqlite) expected consistent: FAILED" in done.stdout
    # A harness that finds nothing in a baseline known to lose writes fails its gate too.
    folder = comparison(tmp_path / "toothless", kv="stale-read.near-concurrent-read")
    assert check(folder, "--expect", "kv=anomalies").returncode == 1


def test_a_bare_expect_applies_to_every_run() -> None:
    near_misses = [CHECKER_CASES / name for name in ("phantom.near-indeterminate-visible",
                                            "duplicate.near-written-twice")]
    assert check(*near_misses, "--expect", "consistent").returncode == 0
    assert check(*near_misses, CHECKER_CASES / "phantom", "--expect", "consistent").returncode == 1


def test_the_whole_data_folder_checks_as_a_comparison() -> None:
    done = check(CHECKER_CASES)
    assert done.returncode == 1
    assert done.stdout.count("\nrun ") + done.stdout.startswith("run ") == len(
        [path for path in CHECKER_CASES.iterdir() if (path / "meta.json").exists()])


def test_input_that_cannot_be_checked_exits_2(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(CHECKER_CASES / "lost-candidate", tmp_path / "broken"))
    with (folder / "history" / "h-1.jsonl").open("a") as history:
        history.write('{"op": "poll", "t0": \n')
    done = check(folder)
    assert done.returncode == 2
    assert "history/h-1.jsonl:6: not valid JSON" in done.stderr
    assert check(tmp_path / "nowhere").returncode == 2
    assert check(CHECKER_CASES / "lost-candidate", "--expect", "mystery=consistent").returncode == 2
    assert check(CHECKER_CASES / "lost-candidate", "--expect", "perhaps").returncode == 2
    bad_share = check(CHECKER_CASES / "lost-candidate", "--min-verified", "1.5")
    assert bad_share.returncode == 2 and "'1.5' must be from 0 to 1" in bad_share.stderr


def test_min_verified_decides_how_much_evidence_a_consistent_verdict_needs(
        tmp_path: Path) -> None:
    folder = comparison(tmp_path, one="stale-read.near-concurrent-read",
                        left="unverifiable.near-left")
    merged = Path(shutil.copytree(folder / "one", tmp_path / "merged"))
    shutil.copy(folder / "left" / "history" / "h-1.jsonl", merged / "history" / "h-2.jsonl")
    (merged / "history" / "h-2.jsonl").write_text(
        (merged / "history" / "h-2.jsonl").read_text().replace('"s1"', '"s2"'))
    done = check(merged)  # 1 of its 2 sessions verified: half, as the default asks
    assert done.returncode == 0, done.stdout
    assert "verdict: consistent: no anomaly in 12 operations; 1 of 2 sessions" in done.stdout
    done = check(merged, "--min-verified", "0.6")
    assert done.returncode == 3
    assert ("verdict: inconclusive: 1 of 2 sessions could be verified (at least 60% needed): 1 "
            "was left before the final reads") in done.stdout
