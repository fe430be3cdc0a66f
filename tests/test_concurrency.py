"""Many clients racing on the same sessions, against real server processes on loopback.

The consistent stores, each as one process, as two worker processes on one port
(``--workers 2``, the kernel spreading connections), and as two servers on one database with
the requests taking turns between them: racing writes to one session then land on different
processes, which is what exposes a store that is consistent only within one process.
"""

from __future__ import annotations

import pytest

from support import ServerFactory
from support.race import RaceResult, run_race


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("workers", [1, 2])
async def test_a_consistent_store_loses_nothing_under_racing_appends_and_answers(
        start_server: ServerFactory, backend: str, workers: int) -> None:
    server = start_server(backend, workers=workers)
    result = await run_race(server.url, sessions=100, appends=25, answers=5)
    print(f"{backend} --workers {workers}:", result.summary())
    assert_lost_nothing(result)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_two_servers_on_one_database_lose_nothing(start_server: ServerFactory,
                                                        backend: str) -> None:
    servers = [start_server(backend), start_server(backend)]
    result = await run_race([s.url for s in servers], sessions=100, appends=25, answers=5)
    print(f"{backend}, two servers:", result.summary())
    assert_lost_nothing(result)


def assert_lost_nothing(result: RaceResult) -> None:
    assert result.appends_acknowledged == result.appends_sent == 5000
    assert result.appends_found == 5000 and result.appends_lost == 0
    assert result.duplicates == 0 and result.order_violations == 0
    assert result.answers_acknowledged == 100  # exactly one winner per session ...
    assert result.sessions_with_conflicting_answers == 0
    assert result.acknowledged_answers_not_stored == 0  # ... and it is the one stored
    assert result.statuses[500] == 0
