"""Checks every scenario's history must pass, whatever the scenario (used by the tests here)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from locust.env import Environment

from analysis.history import FORMAT_VERSION

REQUIRED = ("op", "session", "side", "client", "value", "t0", "t1", "host", "status", "type")
WRITES = ("create", "answer", "candidate")


def assert_lines_well_formed(records: list[dict[str, Any]]) -> None:
    assert records, "empty history"
    for record in records:
        missing = [name for name in REQUIRED if name not in record]
        assert not missing, f"{missing} missing in {record}"
        assert record["type"] in ("ok", "fail", "info"), record
        assert isinstance(record["t0"], int) and record["t0"] <= record["t1"], record
        assert record["client"].count("/") == 3, record
        if record["type"] != "ok":
            assert record.get("error"), record
        if record["op"] in WRITES:
            assert record["value"], record
        if record["op"] == "poll" and record["type"] == "ok":
            expected = {"answer", "candidates"} if record["side"] == "offerer" else {
                "offer", "candidates"}
            assert set(record["read"]) == expected, record
        if record["op"] == "list" and record["type"] == "ok":
            assert isinstance(record["read"]["sessions"], list), record
        if record["status"] is not None:
            assert isinstance(record.get("server_ms"), float), record


def assert_tokens_unique(records: list[dict[str, Any]]) -> None:
    written = Counter(r["value"] for r in records if r["op"] in WRITES)
    repeated = [value for value, count in written.items() if count > 1]
    assert not repeated, f"tokens written twice: {repeated[:5]}"


def assert_clients_sequential(records: list[dict[str, Any]]) -> None:
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for record in records:
        spans[record["client"]].append((record["t0"], record["t1"]))
    for client, times in spans.items():
        times.sort()
        for (_, end), (start, _) in zip(times, times[1:]):
            assert start >= end, f"{client} has overlapping operations"


def assert_final_reads_cover_sessions(load: list[dict[str, Any]],
                                      finals: list[dict[str, Any]]) -> None:
    touched = {r["session"] for r in load if r["session"] is not None and r["op"] != "list"}
    read = Counter((r["session"], r["side"]) for r in finals if r["op"] == "poll")
    assert touched, "no session touched"
    for session in touched:
        assert read[(session, "offerer")] == 1 and read[(session, "answerer")] == 1, session


def interrupted(record: dict[str, Any]) -> bool:
    return record["type"] == "info" and str(record.get("error", "")).startswith("interrupted")


def assert_counts_match_locust(load: list[dict[str, Any]], environment: Environment) -> None:
    """Locust counted exactly the operations that completed (interrupted ones never reach it)."""
    ours = Counter(r["op"] for r in load if not interrupted(r))
    locust = Counter()
    for (name, method), entry in environment.stats.entries.items():
        if method != "FLOW":
            locust[name] += entry.num_requests
    assert ours == locust, (ours, locust)
    failures = sum(e.num_failures for (_, m), e in environment.stats.entries.items()
                   if m != "FLOW")
    unexpected = sum(1 for r in load if not interrupted(r) and r["type"] != "ok"
                     and not (r["op"] == "answer" and r["status"] == 409))
    assert failures == unexpected


def assert_history_sound(run: Any) -> None:
    """All of the above on one finished run."""
    assert len(run.files) == 1
    assert_lines_well_formed(run.records)
    assert_tokens_unique(run.records)
    assert_clients_sequential(run.records)
    assert_final_reads_cover_sessions(run.load(), run.finals())
    assert_counts_match_locust(run.load(), run.environment)
    assert run.meta["format"] == FORMAT_VERSION and run.meta["backend"] == "sqlite"
    assert run.meta["server"]["backend"] == "sqlite" and run.meta["time_scale"] == 0.2
