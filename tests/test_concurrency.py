"""Many clients racing on the same sessions, against a real server process on loopback."""

from __future__ import annotations

from server.process import ServerProcess
from support.race import run_race


async def test_sqlite_loses_nothing_under_racing_appends_and_answers(
        sqlite_server: ServerProcess) -> None:
    result = await run_race(sqlite_server.url, sessions=100, appends=25, answers=5)
    print("sqlite:", result.summary())
    assert result.appends_acknowledged == result.appends_sent == 5000
    assert result.appends_found == 5000 and result.appends_lost == 0
    assert result.duplicates == 0 and result.order_violations == 0
    assert result.answers_acknowledged == 100  # exactly one winner per session ...
    assert result.sessions_with_conflicting_answers == 0
    assert result.acknowledged_answers_not_stored == 0  # ... and it is the one stored
    assert result.statuses[500] == 0
