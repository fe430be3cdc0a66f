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
