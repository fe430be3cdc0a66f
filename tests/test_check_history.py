"""Loading run folders: merging every history file, and clear errors for what cannot be read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.history import HistoryError, find_runs, load_run
from support import CHECKER_CASES

TWO_FILES = CHECKER_CASES / "non-monotonic-read.near-other-host"


def copy_case(tmp_path: Path, name: str = "lost-candidate") -> Path:
    return Path(shutil.copytree(CHECKER_CASES / name, tmp_path / name))


def test_every_history_file_is_merged_and_each_record_knows_its_line() -> None:
    run = load_run(TWO_FILES)
    assert run.files == ["history/g-7.jsonl", "history/h-1.jsonl"]
    assert len(run.records) == 7
    assert [record["host"] for record in run.records].count("g:b2") == 1
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


def test_unknown_format_version_is_an_error(tmp_path: Path) -> None:
    folder = copy_case(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": 2}))
    with pytest.raises(HistoryError, match="unknown history format version 2"):
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
