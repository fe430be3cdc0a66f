"""Generated histories: a correct store is always consistent; each injected fault is caught.

The simulator (``support.simulation``) plays sessions against a linearizable, write-once
store with indeterminate writes, refused second answers, left sessions and, optionally, a second
host with an unrelated clock. The checker must never cry wolf on it, and each injector
(``support.faults``) must be caught with an explanation that names what it broke.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis.checker.run as checker_run
from analysis.checker import ANOMALY_TYPES, check_run, run_to_json
from analysis.checker.run import _chunks
from analysis.history import load_run
from analysis.verdicts import CONSISTENT
from support import IN_CI
from support.faults import INJECTORS, inject
from support.simulation import SimSettings, meta_for, simulate, write_run


def check(folder: Path, records: list[dict], sim: SimSettings):
    write_run(folder, meta_for(folder.name, sim), [records])
    return check_run(load_run(folder))


def without_origin(op: dict) -> dict:
    return {key: value for key, value in op.items() if key not in ("file", "line")}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), two_hosts=st.booleans(),
       indeterminate=st.sampled_from([0.0, 0.05, 0.3]))
def test_a_correct_store_is_always_consistent(tmp_path_factory, seed: int, two_hosts: bool,
                                              indeterminate: float) -> None:
    sim = SimSettings(two_hosts=two_hosts, indeterminate=indeterminate, polls=6)
    records = [record for batch in simulate(seed, 25, sim) for record in batch]
    result = check(tmp_path_factory.mktemp("correct"), records, sim)
    found = {kind: tally.examples[:1] for kind, tally in result.tallies.items() if tally.count}
    assert result.verdict == CONSISTENT, found
    assert result.lag_ms["max"] == 0.0


def test_the_simulator_exercises_what_the_rules_are_about() -> None:
    """Guards the test above against a simulator too tame to matter."""
    records = [record for batch in simulate(5, 200, SimSettings()) for record in batch]
    kinds = {(r["op"], r["type"], r.get("status")) for r in records}
    assert ("answer", "fail", 409) in kinds          # refused second answers
    assert ("candidate", "info", None) in kinds      # indeterminate appends
    assert ("poll", "fail", 404) in kinds            # polls of left sessions
    concurrent = sum(1 for a, b in zip(records, records[1:]) if b["t0"] < a["t1"])
    assert concurrent > 100


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", list(INJECTORS))
def test_each_injected_fault_is_caught_and_named(tmp_path: Path, kind: str, seed: int) -> None:
    sim = SimSettings(polls=6)
    records = [record for batch in simulate(seed, 30, sim) for record in batch]
    injected = inject(kind, records, random.Random(seed))
    assert injected is not None, f"no place to inject {kind}"
    result = check(tmp_path / "run", records, sim)
    tally = result.tallies[kind]
    assert tally.count >= 1
    proving = [example for example in tally.examples
               if any(without_origin(op) == injected.record for op in example["ops"])]
    assert proving, f"no {kind} example cites {injected.record}: {tally.examples}"
    named = injected.token in proving[0]["explanation"] or injected.token == proving[0]["session"]
    assert named, proving[0]["explanation"]


def test_a_stale_read_across_hosts_is_not_claimed(tmp_path: Path) -> None:
    """With the answerers on another host, no acknowledgement precedes their reads in real
    time, so the stale-read injector finds no place where the rule could prove anything."""
    records = [r for batch in simulate(4, 30, SimSettings(two_hosts=True)) for r in batch]
    assert inject("stale-read", records, random.Random(4)) is None


def test_all_types_can_be_injected() -> None:
    assert set(INJECTORS) == set(ANOMALY_TYPES)


def test_hypothesis_runs_repeatably_in_ci() -> None:
    """tests/conftest.py's profile: in CI the examples are derandomized and a failure prints the
    blob that replays it; elsewhere they stay random, to explore."""
    ci = settings.get_profile("ci")
    assert ci.derandomize is True and ci.print_blob is True
    assert settings().derandomize is IN_CI


def test_several_processes_find_exactly_what_one_finds(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_run(jobs=3)`` cuts the sessions into chunks for forked workers; merged in chunk
    order, every count, session, example (the first five, in the serial order) and lag is the
    serial check's, on a run with every anomaly type spread over many sessions."""
    sim = SimSettings(two_hosts=True, indeterminate=0.05, polls=4)
    records = [record for batch in simulate(7, 1200, sim) for record in batch]
    rng = random.Random(7)
    # Not the two whose injectors scan the whole history per candidate (seconds each, here).
    kinds = [kind for kind in INJECTORS if kind not in ("lost-candidate", "monotonic-writes")]
    injected = [inject(kind, records, rng) for kind in kinds for _ in range(6)]
    assert sum(1 for found in injected if found is not None) > 30
    write_run(tmp_path / "run", meta_for("run", sim), [records])
    run = load_run(tmp_path / "run")
    serial = run_to_json(check_run(run))
    taken = []
    real = checker_run._check_in_parallel

    def spy(*args: Any, **kwargs: Any) -> Any:
        taken.append(len(args[3]))  # the chunks handed to the workers
        return real(*args, **kwargs)

    monkeypatch.setattr(checker_run, "_check_in_parallel", spy)
    parallel = run_to_json(check_run(run, jobs=3))
    assert taken == [len(_chunks(serial["sessions"], 3))] and taken[0] > 3  # the parallel path
    assert parallel == serial
    found = [kind for kind, tally in serial["anomalies"].items() if tally["count"]]
    assert len(found) >= 8 and any(tally["count"] > 5 for tally in serial["anomalies"].values())
