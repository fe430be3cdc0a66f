"""Loading run folders: merging every history file, and clear errors for what cannot be read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.checker import check_run, run_to_json
from analysis.history import CHUNK_BYTES, HistoryError, find_runs, load_run, record_from_json
from support import CHECKER_CASES
from support.commands import check

TWO_FILES = CHECKER_CASES / "non-monotonic-read.near-other-host"


def copy_case(tmp_path: Path, name: str = "lost-candidate") -> Path:
    return Path(shutil.copytree(CHECKER_CASES / name, tmp_path / name))


def test_every_history_file_is_merged_and_each_record_knows_its_line() -> None:
    run = load_run(TWO_FILES)
    assert run.files == ["history/g-7.jsonl", "history/h-1.jsonl"]
    assert len(run.records) == 7
    assert [record.host for record in run.records].count("g:b2") == 1
    assert run.origin(0) == ("history/g-7.jsonl", 1)
    assert run.origin(3) == ("history/h-1.jsonl", 3)
    assert run.meta["format"] == 1


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    folder = copy_case(tmp_path)
    history = folder / "history" / "h-1.jsonl"
    lines = history.read_text().splitlines()
    history.write_text("\n".join([lines[0], "", "   "] + lines[1:]) + "\n")
    run = load_run(folder)
    assert len(run.records) == len(lines)
    assert run.origin(1) == ("history/h-1.jsonl", 4)


@pytest.mark.parametrize("line, complaint", [
    ('{"op": "poll", "t0": 1', "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"op": "poll", "t0": 1, "t1": 2, "type": "ok"}', "missing field(s) host"),
    ('{"op": "teleport", "t0": 1, "t1": 2, "host": "h", "type": "ok"}', "unknown op 'teleport'"),
    ('{"op": "poll", "t0": 1, "t1": 2, "host": "h", "type": "ok"}', "an ok poll needs read"),
    ('{"op": "poll", "t0": 1.5, "t1": 2, "host": "h", "type": "info"}', "t0 and t1 must be"),
    ('{"op": "leave", "t0": 1, "t1": 2, "host": "h", "type": "maybe"}', "unknown type"),
])
def test_a_malformed_line_is_named_by_file_and_line(tmp_path: Path, line: str,
                                                    complaint: str) -> None:
    folder = copy_case(tmp_path)
    history = folder / "history" / "h-1.jsonl"
    lines = history.read_text().splitlines()
    lines.insert(2, line)
    history.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError, match=r"history/h-1\.jsonl:3: ") as error:
        load_run(folder)
    assert complaint in str(error.value)


def test_missing_meta_json_is_an_error(tmp_path: Path) -> None:
    folder = copy_case(tmp_path)
    (folder / "meta.json").unlink()
    with pytest.raises(HistoryError, match="meta.json: missing"):
        load_run(folder)


@pytest.mark.parametrize("version", [3, 0, "2", True])
def test_unknown_format_version_is_an_error(tmp_path: Path, version: object) -> None:
    folder = copy_case(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": version}))
    with pytest.raises(HistoryError, match=f"unknown history format version {version!r}; "
                                           "this checker reads versions 1 and 2"):
        load_run(folder)


def test_format_1_folders_still_load_and_hold_no_faults() -> None:
    """The checked-in cases are format 1 (before fault records): they load as they are."""
    folders = [path for path in CHECKER_CASES.iterdir() if (path / "meta.json").is_file()]
    old = [path for path in folders if json.loads((path / "meta.json").read_text())["format"] == 1]
    assert old
    for folder in old:
        run = load_run(folder)
        assert run.records and run.faults == []


def test_fault_records_are_set_apart_from_the_operations(tmp_path: Path) -> None:
    folder = copy_case(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": 2}))
    operations = len(load_run(folder).records)
    fault = {"op": "fault", "kind": "kill", "t0": 1_500_000_000, "t1": 1_700_000_000,
             "host": "h:b1", "type": "info", "client": "h/9/nemesis"}
    (folder / "history" / "nemesis-h-9.jsonl").write_text(json.dumps(fault) + "\n")
    run = load_run(folder)
    assert len(run.records) == operations
    assert run.faults == [{**fault, "file": "history/nemesis-h-9.jsonl", "line": 1}]
    (folder / "history" / "nemesis-h-9.jsonl").write_text(
        json.dumps({**fault, "kind": "flood"}) + "\n")
    with pytest.raises(HistoryError, match=r"history/nemesis-h-9\.jsonl:1: unknown fault kind "
                                           r"'flood' \(kill, pause\)"):
        load_run(folder)


def test_a_run_without_history_files_is_an_error(tmp_path: Path) -> None:
    folder = copy_case(tmp_path)
    shutil.rmtree(folder / "history")
    with pytest.raises(HistoryError, match="no \\*.jsonl history files"):
        load_run(folder)


def test_find_runs_expands_a_comparison_folder(tmp_path: Path) -> None:
    copy_case(tmp_path, "lost-candidate")
    copy_case(tmp_path, "stale-read")
    assert find_runs([tmp_path]) == [tmp_path / "lost-candidate", tmp_path / "stale-read"]
    assert find_runs([tmp_path / "stale-read"]) == [tmp_path / "stale-read"]


def test_find_runs_rejects_a_folder_without_runs(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="neither a run folder nor a comparison folder"):
        find_runs([tmp_path])
    with pytest.raises(HistoryError, match="no such folder"):
        find_runs([tmp_path / "absent"])


@pytest.mark.parametrize("line, complaint", [
    ('{"op": "poll", "t0": 1, "t1": 2, "host": "h", "type": "ok", "read": {"candidates": [[1]]}}',
     "an ok poll needs read"),
    ('{"op": "poll", "t0": 1, "t1": 2, "host": "h", "type": "ok", '
     '"read": {"answer": {"sdp": 1}, "candidates": []}}', "an ok poll needs read"),
    ('{"op": "candidate", "t0": 1, "t1": 2, "host": "h", "type": "ok", "value": ["x"]}',
     "value must be a token"),
    ('{"op": "poll", "session": 7, "t0": 1, "t1": 2, "host": "h", "type": "info"}',
     "session must be a string"),
    ('{"op": "poll", "side": "both", "t0": 1, "t1": 2, "host": "h", "type": "info"}',
     "unknown side"),
])
def test_values_the_checker_cannot_use_are_named(tmp_path: Path, line: str,
                                                 complaint: str) -> None:
    folder = copy_case(tmp_path)
    with (folder / "history" / "h-1.jsonl").open("a") as history:
        history.write(line + "\n")
    with pytest.raises(HistoryError, match=r"history/h-1\.jsonl:6: ") as error:
        load_run(folder)
    assert complaint in str(error.value)


# --- every malformed record is exit 2 with file:line, never a traceback, never exit 1 ----------

CONSISTENT_CASE = "stale-read.near-concurrent-read"
A_LINE = ('{"op": "poll", "session": "s1", "side": "offerer", "client": "h/1/u1/offerer", '
          '"t0": 9000000000, "t1": 9010000000, "host": "h:b1", "type": "info"')


def with_line(tmp_path: Path, line: str, *, at: int | None = None, newline: bool = True) -> Path:
    """A copy of a consistent case with ``line`` inserted at index ``at`` (default: appended)."""
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    history = folder / "history" / "h-1.jsonl"
    lines = history.read_text().splitlines()
    lines.insert(len(lines) if at is None else at, line)
    history.write_text("\n".join(lines) + ("\n" if newline else ""))
    return folder


@pytest.mark.parametrize("line, complaint", [
    (A_LINE + ', "status": "500"}',
     'status must be an integer (the HTTP status) or null, not "500"'),
    (A_LINE + ', "status": true}', "status must be an integer (the HTTP status) or null, not true"),
    (A_LINE + ', "status": null, "client": ["h", 1]}', "client must be a string or null"),
    (A_LINE + ', "status": 200, "server_ms": "fast"}', 'server_ms must be a number or null'),
    (A_LINE.replace('"t1": 9010000000', '"t1": 8000000000') + "}", "t1 (8000000000) is before t0"),
    ('{"op": "poll", "read": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested too deeply to read"),
])
def test_a_malformed_record_exits_2_naming_file_line_and_problem(tmp_path: Path, line: str,
                                                                 complaint: str) -> None:
    done = check(with_line(tmp_path, line, at=2))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"history/h-1.jsonl:3: {complaint}" in done.stderr
    assert done.stdout == "overall: nothing could be checked; 1 run(s) could not be checked " \
        "(exit 2)\n"


def test_a_history_file_that_is_a_folder_exits_2(tmp_path: Path) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    (folder / "history" / "x.jsonl").mkdir()
    done = check(folder)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "history/x.jsonl: not a file (a history is a file of JSON lines)" in done.stderr


def test_a_last_line_cut_short_is_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = with_line(tmp_path, A_LINE[:70], newline=False)  # a killed writer's last line
    done = check(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    warning = ("history/h-1.jsonl:7: the last line is cut short (the load process was stopped "
               "while writing it): skipped")
    assert warning in done.stderr and f"note: {warning}" in done.stdout
    assert "checked 6 operations" in done.stdout and "verdict: consistent" in done.stdout


def test_a_line_cut_short_in_the_middle_is_an_error(tmp_path: Path) -> None:
    done = check(with_line(tmp_path, A_LINE[:70], at=3))
    assert done.returncode == 2
    assert "history/h-1.jsonl:4: not valid JSON" in done.stderr


def test_an_empty_history_is_inconclusive_not_consistent(tmp_path: Path) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    (folder / "history" / "h-1.jsonl").write_text("")
    done = check(folder)
    assert done.returncode == 3, done.stdout + done.stderr
    assert ("verdict: inconclusive: no session could be verified: no operation was recorded "
            "under load") in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "overall: inconclusive (exit 3)"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3),
                                                                         children, max_size=3),
    max_leaves=6)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, 5), name=st.sampled_from(
    ["op", "session", "side", "client", "value", "t0", "t1", "host", "status", "type", "read",
     "final", "error", "server_ms", "settling"]), value=JSON_VALUES)
def test_no_value_in_any_field_makes_the_checker_fail_other_than_with_a_history_error(
        tmp_path: Path, line: int, name: str, value: object) -> None:
    folder = tmp_path / f"fuzz-{line}-{name}"
    if not folder.exists():
        shutil.copytree(CHECKER_CASES / CONSISTENT_CASE, folder)
    history = folder / "history" / "h-1.jsonl"
    original = (CHECKER_CASES / CONSISTENT_CASE / "history" / "h-1.jsonl").read_text()
    records = [json.loads(text) for text in original.splitlines()]
    records[line][name] = value
    history.write_text("".join(json.dumps(record) + "\n" for record in records))
    try:
        run_to_json(check_run(load_run(folder)))
    except HistoryError as error:
        assert str(error).startswith(("history/h-1.jsonl:", f"{folder}")), error


# --- the fast reader takes every line the format allows, as the line says ----------------------

def lines_of(folder: Path) -> list[dict]:
    return [json.loads(text) for text in
            (folder / "history" / "h-1.jsonl").read_text().splitlines() if text.strip()]


def test_records_are_the_lines_fields_and_cited_lines_come_back_as_written(
        tmp_path: Path) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    history = folder / "history" / "h-1.jsonl"
    lines = lines_of(folder)
    # keys the reader does not keep, and explicit nulls, still come back in the line's JSON
    lines[0] = {**lines[0], "trace": {"id": 7}, "status": None}
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = load_run(folder)
    assert [record_from_json(line) for line in lines] == run.records
    assert [run.line_json(index) for index in range(len(lines))] == lines
    assert run.records[0].status is None and not hasattr(run.records[0], "trace")


@pytest.mark.parametrize("name, value", [
    ("t1", 10 ** 30),          # beyond 64 bits: the typed decoder refuses it, the format not
    ("server_ms", 3),          # an integer where a number is asked for
    ("value", 12345),          # a token that is a number
    ("value", True),
    ("final", "yes"),          # a field the reader keeps as it is
    ("settling", [1]),
    ("error", {"why": "x"}),
])
def test_values_the_format_allows_load_whatever_the_fast_decoder_takes(
        tmp_path: Path, name: str, value: object) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    lines = lines_of(folder)
    lines[1][name] = value
    (folder / "history" / "h-1.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines))
    run = load_run(folder)
    assert getattr(run.records[1], name) == value
    assert run.records == [record_from_json(line) for line in lines]
    assert run.line_json(1)[name] == value


def test_crlf_lines_blank_lines_and_a_large_file_keep_their_numbers(tmp_path: Path) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    lines = [json.dumps(line) for line in lines_of(folder)]
    # Many copies, so that the file spans several of the reader's chunks; a blank line and a
    # CRLF line ending in the middle of the third copy.
    copies = 3 * CHUNK_BYTES // sum(len(line) + 1 for line in lines)
    text = lines * copies
    text[2 * len(lines) + 1] += "\r"
    text.insert(2 * len(lines) + 2, "  ")
    (folder / "history" / "h-1.jsonl").write_text("\n".join(text) + "\n")
    run = load_run(folder)
    assert len(run.records) == len(lines) * copies
    assert run.origin(2 * len(lines) + 2) == ("history/h-1.jsonl", 2 * len(lines) + 4)
    assert run.origin(len(run.records) - 1) == ("history/h-1.jsonl", len(text))
    assert run.line_json(len(run.records) - 1) == json.loads(lines[-1])


@pytest.mark.parametrize("read", ["5", '{"candidates": "c1"}', '{"sessions": [["s"]]}',
                                  '{"offer": {"sdp": "v=0"}}'])
def test_a_read_that_is_not_an_object_of_tokens_is_named(tmp_path: Path, read: str) -> None:
    line = A_LINE + ', "status": null, "read": ' + read + "}"
    folder = with_line(tmp_path, line, at=2)
    with pytest.raises(HistoryError, match=r"history/h-1\.jsonl:3: read must be null or an "
                                           "object"):
        load_run(folder)


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    folder = copy_case(tmp_path, CONSISTENT_CASE)
    history = folder / "history" / "h-1.jsonl"
    history.write_bytes(history.read_bytes() + b'{"op": "poll", "host": "\xff"}\n')
    with pytest.raises(HistoryError, match=r"history/h-1\.jsonl:7: not UTF-8 text"):
        load_run(folder)
