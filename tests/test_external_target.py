"""``python -m loadtests --host`` against someone else's server, as rondevu's Worker was tried.

The target is our real sqlite server without the routes rondevu 02d460f lacked: ``POST /leave``
and ``GET /_harness/config`` answer its framework's plain-text 404. So the harness must find
the missing route once and stop sending it, run in real time (scale 1), settle by reading until
two rounds agree (the target does not say its lag), and take the session lifetime from
``--session-ttl``; and still find the store consistent.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from support.commands import last_line, run
from support.targets import Target


def test_a_target_without_leave_or_config_is_loaded_checked_and_found_consistent(
        tmp_path: Path) -> None:
    output = tmp_path / "external"
    with Target("no-leave", "--db", str(tmp_path / "rondevu.db")) as target:
        done = run("loadtests", "--host", target.url, "--name", "rondevu", "--duration", "6",
                   "--arrival-rate", "1", "--pacing", "4", "--repeat", "1", "--stop-timeout",
                   "2", "--session-ttl", "300000",
                   "--scenarios", "Handshake,IceTrickle", "--output", output, timeout=180)
    print(done.stdout[-3000:], done.stderr[-3000:])
    assert done.returncode == 0, done.stderr
    assert last_line(done).startswith("exit 0: rondevu consistent: no anomaly in ")
    assert "time scale 1.0" in done.stdout
    assert "not supported by this target: leave" in done.stdout
    assert "until two in a row agreed" in done.stdout

    meta = json.loads((output / "rondevu" / "meta.json").read_text())
    assert meta["time_scale"] == 1.0 and meta["server"] == {"session_ttl": 300000.0}
    assert meta["settle_mode"] == "until-agreed"
    assert meta["settling"]["mode"] == "until-agreed" and meta["settling"]["agreed"] is True
    assert meta["settling"]["rounds"] >= 2
    assert list(meta["unsupported"]) == ["leave"]

    records = [json.loads(line) for path in (output / "rondevu" / "history").glob("*.jsonl")
               for line in path.read_text().splitlines()]
    assert not [r for r in records if r["op"] == "leave"], "a missing route is not an operation"
    assert any(r.get("settling") == 1 for r in records) and any(r.get("final") for r in records)
    assert not any(r.get("settling") and r.get("final") for r in records)

    with (output / "rondevu" / "locust" / "locust_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert rows["leave: not supported by this target"]["Failure Count"] == "0"
    assert "leave" not in rows
    assert int(rows["Aggregated"]["Failure Count"]) == 0

    [entry] = json.loads((output / "check.json").read_text())["runs"]
    assert entry["verdict"] == "consistent" and entry["notes"] == []  # lost-session decided
    summary = json.loads((output / "summary.json").read_text())
    unsupported = next(row for row in summary["first_screen"]["rows"]
                       if row["label"] == "routes not supported by this target")
    assert unsupported["cells"] == [{"text": "leave: POST /leave answered 404 '404 Not Found'",
                                     "tone": "unknown"}]
    handshakes = summary["stores"][0]["availability"]["handshakes"]
    # Every handshake completes but those the stop cut short: at most one per user.
    assert handshakes["completed"] > 0 and handshakes["completed"] >= handshakes["started"] - 4
