"""Fixtures for running the scenarios in process: a real server and a local Locust runner.

Collected only in the pytest process that ``tests/test_locust_env.py`` starts (importing Locust
gevent-patches the interpreter).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import locust
import pytest
from locust.env import Environment

from server.process import ServerProcess
from support.locust_args import parse_locust_args

# Every client timing at a fifth: 200 ms polls, 0.4 s gathering, 6 s timeout, 0.4 s settle.
FAST = ["--time-scale", "0.2"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("server") / "signaling.db"
    with ServerProcess(db) as process:
        yield process


@dataclass
class Run:
    """A finished in-process run: its environment, history records and meta.json."""

    environment: Environment
    records: list[dict[str, Any]]
    meta: dict[str, Any]
    files: list[Path]

    def load(self) -> list[dict[str, Any]]:
        return [r for r in self.records if not r.get("final")]

    def finals(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("final")]


def run_users(user_class: type, url: str, folder: Path, *, users: int, seconds: float,
              args: list[str] = ()) -> Run:
    """Run ``users`` users for ``seconds``, stop, and let the final reads finish (``quitting``)."""
    history = folder / "run" / "history"
    options = parse_locust_args(["--host", url, "--history-dir", str(history), *FAST, *args])
    environment = Environment(user_classes=[user_class], host=url, parsed_options=options,
                              events=locust.events)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(seconds)
    runner.quit()
    environment.events.quitting.fire(environment=environment, reverse=True)
    files = sorted(history.glob("*.jsonl"))
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    meta = json.loads((folder / "run" / "meta.json").read_text())
    return Run(environment, records, meta, files)


@pytest.fixture
def run_scenario(server: ServerProcess, tmp_path: Path) -> Callable[..., Run]:
    """Run a scenario against the sqlite server, or against ``url=`` (another target)."""
    def run(user_class: type, url: str | None = None, **kwargs: Any) -> Run:
        return run_users(user_class, url or server.url, tmp_path, **kwargs)
    return run
