"""Shared fixtures, and the test run's Hypothesis profile.

Locust's in-process tests (``tests/locust_env``) are collected only in their own pytest process
(see ``tests/test_locust_env.py``): importing Locust gevent-patches the interpreter, which must
never happen in the asyncio tests' process.

In CI (``CI=true``) Hypothesis runs derandomized, and prints the blob of a failing example, so a
failure seen there is the same failure on a laptop (``@reproduce_failure`` with that blob).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from analysis.__main__ import main as analysis_main
from server.pgcluster import PostgresCluster
from server.process import ServerProcess
from server.settings import KvSettings, Settings
from server.stores import BACKENDS, POSTGRES
from support import IN_CI, PLOTS_COMPARISON, ServerFactory, WrittenReport
from support.api import SettingsFactory
from support.postgres import database_name, start_test_cluster

collect_ignore = [] if os.environ.get("HARNESS_LOCUST_ENV") else ["locust_env"]

CI_PROFILE = "ci"
hypothesis_settings.register_profile(CI_PROFILE, derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile(CI_PROFILE)


@pytest.fixture
def api_settings(tmp_path: Path, request: pytest.FixtureRequest) -> SettingsFactory:
    """Settings for an in-process app: a fresh database file under ``tmp_path`` (for the
    PostgreSQL backends a fresh database, :func:`postgres_dsn`), and the KV model without
    modelled latency or write interval (the API suites test behaviour, not the model's timing);
    keyword arguments override any field."""
    def make(backend: str, **overrides: Any) -> Settings:
        kv = KvSettings(hot_read_ms=0.0, cold_read_ms=0.0, write_ms=0.0, write_interval=0.0)
        dsn = (request.getfixturevalue("postgres_dsn")
               if BACKENDS[backend].database == POSTGRES else "")
        return dataclasses.replace(
            Settings(db=tmp_path / "api.db", dsn=dsn, backend=backend, kv=kv), **overrides)
    return make


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole test run, started when a test first
    needs it (skipped, or failed in CI, where PostgreSQL is not installed)."""
    cluster = start_test_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_dsn(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The DSN of a fresh, empty database, dropped after the test."""
    name = database_name()
    dsn = postgres_cluster.create_database(name)
    yield dsn
    postgres_cluster.drop_database(name)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    """The database file of :func:`sqlite_server` (not created until the server starts)."""
    return tmp_path / "signaling.db"


@pytest.fixture
def sqlite_server(sqlite_db: Path) -> Iterator[ServerProcess]:
    """``python -m server`` with the default (sqlite) backend on ``sqlite_db``, answering
    ``/health``; stopped after the test whatever the test did to it (a killed or signalled
    server is simply reaped)."""
    with ServerProcess(sqlite_db) as server:
        yield server


@pytest.fixture
def start_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """``start_server(backend, *args, workers=1)``: ``python -m server`` on a fresh database of
    its own (a file under ``tmp_path``, or a fresh PostgreSQL database whose DSN the server
    gets in its environment), answering ``/health``; every server started is stopped after the
    test. Two servers of one test share the database, as servers behind a load balancer do."""
    started: list[ServerProcess] = []

    def start(backend: str, *args: str, workers: int = 1) -> ServerProcess:
        env = ({"SIGNALING_DSN": request.getfixturevalue("postgres_dsn")}
               if BACKENDS[backend].database == POSTGRES else {})
        server = ServerProcess(tmp_path / "signaling.db", backend=backend, env=env,
                               extra_args=["--workers", str(workers), *args])
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def plots_report(tmp_path_factory: pytest.TempPathFactory) -> WrittenReport:
    """The report of the unchanged plots fixture, for the tests that only read it (drawing
    every figure is the slow part, so it is drawn once)."""
    out = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = analysis_main(["report", str(PLOTS_COMPARISON), "--output", str(out)])
    return WrittenReport(out, status, printed.getvalue().strip().splitlines())
