"""Many clients racing on the same sessions, against a real server process on loopback."""

from __future__ import annotations

from pathlib import Path

from server.process import ServerProcess
from support.race import run_race


async def test_sqlite_loses_nothing_under_racing_appends_and_answers(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "race.db") as server:
        result = await run_race(server.url, sessions=100, appends=25, answers=5)
    print("sqlite:", result.summary())
    assert result.appends_acknowledged == result.appends_sent == 5000
    assert result.appends_found == 5000 and result.appends_lost == 0
    assert result.duplicates == 0 and result.order_violations == 0
    assert result.answers_acknowledged == 100  # exactly one winner per session ...
    assert result.sessions_with_conflicting_answers == 0
    assert result.acknowledged_answers_not_stored == 0  # ... and it is the one stored
    assert result.statuses[500] == 0
