"""The comparison's settings: which stores it runs by default, and the gates it holds them to."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.gates import Expectation
from comparison import settings as comparison_settings
from comparison.settings import load_settings
from server.stores import BACKENDS


def test_without_postgresql_the_default_leaves_out_only_the_postgres_stores(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(comparison_settings, "find_binaries", lambda: None)
    monkeypatch.delenv("SIGNALING_DSN", raising=False)
    chosen = load_settings(["--output", str(tmp_path / "out")])
    assert chosen.backends == ("sqlite", "rmw", "kv")
    assert chosen.left_out == ("postgres", "rmw-postgres")
    assert [str(e) for e in chosen.expect] == ["sqlite=consistent", "rmw=lost-writes",
                                               "kv=lost-writes"]
    # Asked for by name, a postgres store is not left out: the comparison refuses to start
    # without PostgreSQL instead (tests/test_campaign.py).
    named = load_settings(["--backends", "postgres", "--output", str(tmp_path / "out")])
    assert named.backends == ("postgres",) and named.left_out == ()


def test_with_postgresql_every_store_is_compared(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(comparison_settings, "find_binaries", lambda: tmp_path)
    chosen = load_settings(["--output", str(tmp_path / "out")])
    assert chosen.backends == tuple(BACKENDS) and chosen.left_out == ()


def test_an_expect_changes_the_gate_of_the_runs_it_names_only(tmp_path: Path) -> None:
    chosen = load_settings(["--backends", "sqlite,kv", "--expect", "kv=anomalies",
                            "--output", str(tmp_path / "out")])
    assert chosen.expect == (Expectation("kv", "anomalies"),
                             Expectation("sqlite", "consistent"))
    external = load_settings(["--host", "http://127.0.0.1:9", "--output", str(tmp_path / "x")])
    assert external.expect == ()


def test_the_arrival_rate_makes_the_users_and_their_pacing(tmp_path: Path) -> None:
    full = load_settings(["--backends", "sqlite", "--output", str(tmp_path / "a")])
    assert (full.arrival_rate, full.repeat, full.duration_s) == (2.4, 3, 25)
    assert full.users == 96 and full.pacing_model_s == pytest.approx(40.0)
    assert full.wall_rate == pytest.approx(24.0) and full.spawn_rate == 96
    assert full.run_names("sqlite") == ["sqlite-1", "sqlite-2", "sqlite-3"]
    quick = load_settings(["--quick", "--backends", "sqlite", "--output", str(tmp_path / "b")])
    assert (quick.arrival_rate, quick.repeat, quick.users) == (1.2, 1, 48)
    assert quick.run_names("sqlite") == ["sqlite"]
    odd = load_settings(["--arrival-rate", "0.7", "--time-scale", "1", "--output",
                         str(tmp_path / "c")])
    # A whole number of users, each a little slower than every 40 s, keeps the rate exact.
    assert odd.users == 28 and odd.users / odd.pacing_model_s == pytest.approx(0.7)
    assert odd.wall_rate == pytest.approx(0.7)


@pytest.mark.parametrize("option", ["--arrival-rate", "--repeat"])
def test_a_rate_or_repeat_that_is_not_positive_is_refused(option: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_settings([option, "0", "--output", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert f"{option} must be greater than 0" in capsys.readouterr().err


def test_expectations_naming_every_repeat_of_a_store_leave_it_no_default_gate(
        tmp_path: Path) -> None:
    """The defaults are decided on the run folders the comparison will make, as the report
    decides them on the folders it finds: a store whose every run an --expect names gets no
    gate of its own on top; one whose runs are only partly named still does."""
    named = ["--expect", "kv-1=anomalies", "--expect", "kv-2=anomalies"]
    every = load_settings(["--backends", "kv", "--repeat", "2", *named,
                           "--output", str(tmp_path / "a")])
    assert every.expect == (Expectation("kv-1", "anomalies"), Expectation("kv-2", "anomalies"))
    partly = load_settings(["--backends", "kv", "--repeat", "3", *named,
                            "--output", str(tmp_path / "b")])
    assert partly.expect == (Expectation("kv-1", "anomalies"), Expectation("kv-2", "anomalies"),
                             Expectation("kv", "lost-writes"))


def test_a_database_for_an_external_target_is_refused_not_ignored(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture
                                                                  ) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_settings(["--host", "http://127.0.0.1:9", "--dsn", "postgresql://127.0.0.1/x",
                       "--output", str(tmp_path / "x")])
    assert stopped.value.code == 2
    assert "--dsn is the database of our own servers" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--time-scale", "0"], "--time-scale must be greater than 0"),
    (["--settle", "-1"], "--settle must be 0 or more"),
    (["--pacing", "0"], "--pacing must be greater than 0"),
    (["--host", "http://127.0.0.1:9", "--session-ttl", "0"],
     "--session-ttl must be greater than 0"),
    (["--repeat", "0"], "--repeat must be greater than 0"),
])
def test_a_bad_load_option_is_refused_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_settings([*args, "--output", str(tmp_path / "x")])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
