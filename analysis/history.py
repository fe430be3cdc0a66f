"""Reading run folders: ``meta.json`` plus every ``history/*.jsonl`` file, merged.

The format is ``docs/history.md`` (version 1). Loading is the slow part of checking a
large history, so lines are parsed in chunks with one ``json.loads`` per chunk (the JSON scanner
then shares the key strings of all records of a chunk, which roughly halves the memory a million
records take); a chunk that does not parse cleanly is parsed again line by line, so an error
always names the file and the line. Where each record came from is kept in compact arrays rather
than in the records, so plotting code sees exactly the JSON of each line.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import logging
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 20
REQUIRED_FIELDS = frozenset({"op", "t0", "t1", "host", "type"})
OPS = ("create", "answer", "candidate", "poll", "list", "leave")
"""Every operation a history records, in the order reports list them."""
WRITES = frozenset({"create", "answer", "candidate", "leave"})
READS = frozenset({"poll", "list"})
TYPES = ("ok", "fail", "info")
SIDES = ("offerer", "answerer")
CANONICAL_OPS = {name: name for name in OPS}
CANONICAL_TYPES = {name: name for name in TYPES}
CANONICAL_SIDES = {name: name for name in SIDES}


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
        """What the run was made against: ``meta.json``'s backend, else the folder's name."""
        return str(self.meta.get("backend") or self.path.name)

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
    with gc_paused():
        for history_file in history_files:
            relative = history_file.relative_to(path).as_posix()
            run.files.append(relative)
            run.file_starts.append(len(run.records))
            for records, line_numbers in _parse_file(history_file, relative, shared):
                run.records.extend(records)
                run.line_numbers.extend(line_numbers)
    log.debug("loaded %d records from %d files of %s", len(run.records), len(run.files), path)
    return run


def _parse_file(path: Path, name: str, shared: dict[str, str]
                ) -> Iterator[tuple[list[dict[str, Any]], Sequence[int]]]:
    """Yield (records, their line numbers) about a megabyte at a time; blank lines skipped."""
    first = 1
    with path.open("r", encoding="utf-8") as handle:
        while True:
            try:
                chunk = handle.readlines(CHUNK_BYTES)
            except UnicodeDecodeError as error:
                raise HistoryError(f"{name}: not UTF-8 text ({error})") from None
            if not chunk:
                return
            numbers: Sequence[int] = range(first, first + len(chunk))
            first += len(chunk)
            if any(line.isspace() for line in chunk):
                kept = [(number, line) for number, line in zip(numbers, chunk) if line.strip()]
                numbers = [number for number, _line in kept]
                chunk = [line for _number, line in kept]
            if chunk:
                yield _parse_chunk(chunk, numbers, name, shared), numbers


def _parse_chunk(lines: list[str], numbers: Sequence[int], name: str,
                 shared: dict[str, str]) -> list[dict[str, Any]]:
    try:
        records = json.loads("[" + ",".join(lines) + "]")
    except json.JSONDecodeError:
        records = None
    if records is None or len(records) != len(lines):
        records = [_parse_line(line, number, name) for line, number in zip(lines, numbers)]
    share = shared.setdefault
    try:
        # The common case inline (this loop runs once per record); details in record_problem.
        # Subscripting the canonical tables both checks a value and makes every record share
        # one string object for it, as ``share`` does for hosts, clients and session codes.
        for record in records:
            record["op"] = op = CANONICAL_OPS[record["op"]]
            record["type"] = kind = CANONICAL_TYPES[record["type"]]
            value = record["host"]
            record["host"] = share(value, value)
            value = record.get("client")
            if value.__class__ is str:
                record["client"] = share(value, value)
            value = record.get("session")
            if value.__class__ is str:
                record["session"] = share(value, value)
            elif value is not None:
                raise TypeError
            value = record.get("side")
            if value is not None:
                record["side"] = CANONICAL_SIDES[value]
            if record["t0"].__class__ is not int or record["t1"].__class__ is not int:
                raise TypeError
            # Tokens are dictionary keys in the checker, so they must be hashable (sharing
            # them raises TypeError otherwise), and they repeat in every poll of a session.
            value = record.get("value")
            if value is not None:
                record["value"] = share(value, value)
            if op == "poll" and kind == "ok":
                read = record["read"]
                value = read["candidates"]
                if read.__class__ is not dict or value.__class__ is not list:
                    raise TypeError
                read["candidates"] = list(map(share, value, value))
                for key in ("answer", "offer"):
                    value = read.get(key)
                    if value is not None:
                        read[key] = share(value, value)
    except (KeyError, TypeError):
        _raise_problem(records, numbers, name)
    return records


def _raise_problem(records: list[Any], numbers: Sequence[int], name: str) -> None:
    for record, number in zip(records, numbers):
        problem = record_problem(record)
        if problem:
            raise HistoryError(f"{name}:{number}: {problem}")
    raise AssertionError("a record failed the fast check but record_problem finds nothing")


def _parse_line(line: str, number: int, name: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise HistoryError(
            f"{name}:{number}: not valid JSON ({error.msg}, column {error.colno})") from None


def record_problem(record: Any) -> str | None:
    """What makes a parsed line unusable as a history record, or None if it is usable."""
    if type(record) is not dict:
        return "not a JSON object"
    if not REQUIRED_FIELDS <= record.keys():
        missing = ", ".join(sorted(REQUIRED_FIELDS - record.keys()))
        return f"missing field(s) {missing}"
    if type(record["host"]) is not str:
        return "host must be a string"
    if record["op"] not in OPS:
        return f"unknown op {record['op']!r}"
    if record["type"] not in TYPES:
        return f"unknown type {record['type']!r} (ok, fail or info)"
    if record.get("side") is not None and record["side"] not in SIDES:
        return f"unknown side {record['side']!r} (offerer or answerer)"
    if type(record["t0"]) is not int or type(record["t1"]) is not int:
        return "t0 and t1 must be integers (time.monotonic_ns())"
    if record["type"] == "ok" and record["op"] == "poll" and not _poll_read_ok(record.get("read")):
        return ("an ok poll needs read: {\"candidates\": [tokens], \"answer\" or \"offer\": "
                "token or null} (tokens are strings)")
    session = record.get("session")
    if session is not None and type(session) is not str:
        return "session must be a string or null"
    if not _is_token(record.get("value")):
        return "value must be a token (a string)"
    return None


def _poll_read_ok(read: Any) -> bool:
    return (type(read) is dict and type(read.get("candidates")) is list
            and all(_is_token(token) for token in read["candidates"])
            and _is_token(read.get("answer")) and _is_token(read.get("offer")))


def _is_token(value: Any) -> bool:
    return not isinstance(value, (list, dict))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cycle collector while building a million acyclic objects.

    Records and the checker's per-session tuples hold no reference cycles, but every few
    thousand allocations the collector would walk all young objects: with it running, loading a
    million records takes several times as long. The collector's previous state is restored on
    the way out, so the caller's process is left as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
