"""Reading run folders: ``meta.json`` plus every ``history/*.jsonl`` file, merged.

The format is ``../shared/design/HISTORY.md`` (version 1). Loading is the slow part of checking a
large history, so lines are parsed in chunks with one ``json.loads`` per chunk (the JSON scanner
then shares the key strings of all records of a chunk, which roughly halves the memory a million
records take); a chunk that does not parse cleanly is parsed again line by line, so an error
always names the file and the line. Where each record came from is kept in compact arrays rather
than in the records, so plotting code sees exactly the JSON of each line.
"""

from __future__ import annotations

import bisect
import json
import logging
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHUNK_LINES = 4096
REQUIRED_FIELDS = frozenset({"op", "t0", "t1", "host", "type"})
OPS = frozenset({"create", "answer", "candidate", "poll", "list", "leave"})
TYPES = frozenset({"ok", "fail", "info"})
# Values repeated on nearly every line: one shared string each instead of one per record.
SHARED_VALUES = ("op", "type", "side", "host", "client", "session")


class HistoryError(ValueError):
    """Input that cannot be checked; the message names the file (and line) and what is wrong."""


@dataclass
class LoadedRun:
    """One run folder in memory: its metadata and every record of every history file."""

    path: Path
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    files: list[str] = field(default_factory=list)
    """History files relative to ``path``, in the order their records were merged."""
    file_starts: list[int] = field(default_factory=list)
    """Index in ``records`` of each file's first record."""
    line_numbers: array = field(default_factory=lambda: array("l"))
    """1-based line number of each record in its file."""

    @property
    def name(self) -> str:
        return str(self.meta.get("run") or self.path.name)

    @property
    def backend(self) -> str:
        return str(self.meta.get("backend") or self.meta.get("target_name") or self.path.name)

    def origin(self, index: int) -> tuple[str, int]:
        """The file (relative to the run folder) and line number of ``records[index]``."""
        position = bisect.bisect_right(self.file_starts, index) - 1
        return self.files[position], self.line_numbers[index]


def find_runs(paths: Iterable[Path | str]) -> list[Path]:
    """Expand each path to run folders: a run folder itself, or every run in a comparison folder."""
    runs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            raise HistoryError(f"{path}: no such folder")
        if (path / "meta.json").is_file():
            runs.append(path)
            continue
        inside = sorted(child for child in path.iterdir() if (child / "meta.json").is_file())
        if not inside:
            raise HistoryError(
                f"{path}: no meta.json here or in any subfolder: neither a run folder nor a "
                "comparison folder"
            )
        runs.extend(inside)
    return runs


def load_meta(path: Path) -> dict[str, Any]:
    """``meta.json`` of a run folder, checked for the format version this module reads."""
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise HistoryError(f"{meta_path}: missing; a run folder holds meta.json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HistoryError(f"{meta_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise HistoryError(f"{meta_path}: must hold a JSON object")
    version = meta.get("format")
    if version != FORMAT_VERSION:
        raise HistoryError(
            f"{meta_path}: unknown history format version {version!r}; "
            f"this checker reads version {FORMAT_VERSION}"
        )
    return meta


def load_run(path: Path | str) -> LoadedRun:
    """Load a run folder; raises :class:`HistoryError` naming the file and line of bad input."""
    path = Path(path)
    meta = load_meta(path)
    history_files = sorted((path / "history").glob("*.jsonl"))
    if not history_files:
        raise HistoryError(f"{path / 'history'}: no *.jsonl history files")
    run = LoadedRun(path=path, meta=meta, records=[])
    shared: dict[str, str] = {}
    for history_file in history_files:
        relative = history_file.relative_to(path).as_posix()
        run.files.append(relative)
        run.file_starts.append(len(run.records))
        for records, line_numbers in _parse_file(history_file, relative):
            _share_values(records, shared)
            run.records.extend(records)
            run.line_numbers.extend(line_numbers)
    log.debug("loaded %d records from %d files of %s", len(run.records), len(run.files), path)
    return run


def _parse_file(path: Path, name: str) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
    """Yield (records, their line numbers) a chunk at a time; blank lines are skipped."""
    chunk: list[str] = []
    numbers: list[int] = []
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    chunk.append(line)
                    numbers.append(number)
                    if len(chunk) == CHUNK_LINES:
                        yield _parse_chunk(chunk, numbers, name), numbers
                        chunk, numbers = [], []
        except UnicodeDecodeError as error:
            raise HistoryError(f"{name}: not UTF-8 text ({error})") from None
    if chunk:
        yield _parse_chunk(chunk, numbers, name), numbers


def _parse_chunk(lines: list[str], numbers: list[int], name: str) -> list[dict[str, Any]]:
    try:
        records = json.loads("[" + ",".join(lines) + "]")
    except json.JSONDecodeError:
        records = None
    if records is None or len(records) != len(lines):
        records = [_parse_line(line, number, name) for line, number in zip(lines, numbers)]
    for record, number in zip(records, numbers):
        problem = record_problem(record)
        if problem:
            raise HistoryError(f"{name}:{number}: {problem}")
    return records


def _parse_line(line: str, number: int, name: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise HistoryError(f"{name}:{number}: not valid JSON ({error.msg}, column {error.colno})") from None


def record_problem(record: Any) -> str | None:
    """What makes a parsed line unusable as a history record, or None if it is usable."""
    if type(record) is not dict:
        return "not a JSON object"
    if not REQUIRED_FIELDS <= record.keys():
        missing = ", ".join(sorted(REQUIRED_FIELDS - record.keys()))
        return f"missing field(s) {missing}"
    if record["op"] not in OPS:
        return f"unknown op {record['op']!r}"
    if record["type"] not in TYPES:
        return f"unknown type {record['type']!r} (ok, fail or info)"
    if type(record["t0"]) is not int or type(record["t1"]) is not int:
        return "t0 and t1 must be integers (time.monotonic_ns())"
    if record["type"] == "ok" and record["op"] == "poll" and not _poll_read_ok(record.get("read")):
        return "an ok poll needs read with a candidates list"
    return None


def _poll_read_ok(read: Any) -> bool:
    return type(read) is dict and type(read.get("candidates")) is list


def _share_values(records: list[dict[str, Any]], shared: dict[str, str]) -> None:
    """Make equal strings of the fields repeated on every line one object (saves memory)."""
    for record in records:
        for key in SHARED_VALUES:
            value = record.get(key)
            if value.__class__ is str:
                record[key] = shared.setdefault(value, value)
