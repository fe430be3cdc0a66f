"""Reading run folders: ``meta.json`` plus every ``history/*.jsonl`` file, merged.

The format is ``docs/history.md`` (version 2; folders of version 1, which had no fault records,
are read as they are). Loading is the slow part of checking a
large history, so lines are parsed in chunks with one ``json.loads`` per chunk (the JSON scanner
then shares the key strings of all records of a chunk, which roughly halves the memory a million
records take); a chunk that does not parse cleanly is parsed again line by line, so an error
always names the file and the line. Where each record came from is kept in compact arrays rather
than in the records, so plotting code sees exactly the JSON of each line.

Bad input never gets past here: every line the checker could not use (a field of the wrong type,
JSON nested too deeply to parse, a history file that is a folder) raises :class:`HistoryError`
naming the file, the line and what is wrong. The one exception is the format's promise to a
killed load process: a last line cut short (no newline, not valid JSON) is skipped, with a
warning kept in :attr:`LoadedRun.warnings`.
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

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, FORMAT_VERSION)
"""Version 2 added the nemesis's fault records; a version 1 folder is the same without them."""
CHUNK_BYTES = 1 << 20
REQUIRED_FIELDS = frozenset({"op", "t0", "t1", "host", "type"})
OPS = ("create", "answer", "candidate", "poll", "list", "leave")
"""Every operation a history records, in the order reports list them."""
WRITES = frozenset({"create", "answer", "candidate", "leave"})
READS = frozenset({"poll", "list"})
TYPES = ("ok", "fail", "info")
SIDES = ("offerer", "answerer")
FAULT = "fault"
"""The ``op`` of a fault record: what the nemesis did to the server, not an operation of the
load. Fault records are kept apart from the operations (:attr:`LoadedRun.faults`)."""
KILL, PAUSE = "kill", "pause"
FAULT_KINDS = (KILL, PAUSE)
"""Every fault the nemesis injects (``comparison.nemesis``): ``kill``, SIGKILL and a restart on
the same database and port (a crash); ``pause``, SIGSTOP for longer than the clients' timeout,
then SIGCONT."""
CANONICAL_OPS = {name: name for name in (*OPS, FAULT)}
CANONICAL_TYPES = {name: name for name in TYPES}
CANONICAL_SIDES = {name: name for name in SIDES}

OK, PROTOCOL, REFUSED, NO_RESPONSE = "ok", "protocol", "refused", "no response"
"""How an operation ended for the client that made it (:func:`outcome`)."""


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
    warnings: list[str] = field(default_factory=list)
    """What was skipped while loading (a last line cut short), each naming its file and line."""
    faults: list[dict[str, Any]] = field(default_factory=list)
    """The fault records (``op: fault``), each with its ``file`` and ``line``, in start order;
    they are not among :attr:`records`, so no rule or table mistakes one for an operation."""

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


def protocol_refusal(record: dict[str, Any]) -> bool:
    """A 409 to a second, different answer: the write-once answer doing its job (the protocol
    working, never an error in a table, a plot or the checker's evidence)."""
    return record.get("op") == "answer" and record.get("status") == 409


def outcome(record: dict[str, Any]) -> str:
    """:data:`OK`, :data:`PROTOCOL` (:func:`protocol_refusal`), :data:`REFUSED` (any other
    response that is not a success) or :data:`NO_RESPONSE` (a timeout, a refused connection, an
    operation the load stopped under)."""
    if record["type"] == "ok":
        return OK
    if protocol_refusal(record):
        return PROTOCOL
    return NO_RESPONSE if record.get("status") is None else REFUSED


def after_load(record: dict[str, Any]) -> bool:
    """A read taken after the load stopped: a final read, or a round of reads while the store
    settled (``settling``, docs/loadtests.md). Latency and throughput figures leave them out."""
    return bool(record.get("final") or record.get("settling"))


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
    if not meta_path.exists():
        raise HistoryError(f"{meta_path}: missing; a run folder holds meta.json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise HistoryError(f"{meta_path}: not valid JSON ({error})") from None
    except OSError as error:
        raise HistoryError(f"{meta_path}: cannot be read ({error.strerror or error})") from None
    if not isinstance(meta, dict):
        raise HistoryError(f"{meta_path}: must hold a JSON object")
    version = meta.get("format")
    if version not in READABLE_VERSIONS or type(version) is not int:
        raise HistoryError(
            f"{meta_path}: unknown history format version {version!r}; "
            f"this checker reads versions {' and '.join(map(str, READABLE_VERSIONS))}"
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
            if not history_file.is_file():
                raise HistoryError(f"{relative}: not a file (a history is a file of JSON lines)")
            run.files.append(relative)
            run.file_starts.append(len(run.records))
            try:
                for records, line_numbers in _parse_file(history_file, relative, shared,
                                                         run.warnings):
                    if any(record["op"] is FAULT for record in records):
                        records, line_numbers = _set_apart_faults(records, line_numbers,
                                                                  relative, run.faults)
                    run.records.extend(records)
                    run.line_numbers.extend(line_numbers)
            except OSError as error:
                raise HistoryError(f"{relative}: cannot be read ({error.strerror or error})"
                                   ) from None
    run.faults.sort(key=lambda fault: fault["t0"])
    log.debug("loaded %d records and %d faults from %d files of %s", len(run.records),
              len(run.faults), len(run.files), path)
    return run


def _set_apart_faults(records: list[dict[str, Any]], numbers: Sequence[int], name: str,
                      faults: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Move a chunk's fault records into ``faults`` (with their file and line, after checking
    their kind); the operations and their line numbers are returned."""
    kept, kept_numbers = [], []
    for record, number in zip(records, numbers):
        if record["op"] is not FAULT:
            kept.append(record)
            kept_numbers.append(number)
            continue
        if record.get("kind") not in FAULT_KINDS:
            raise HistoryError(f"{name}:{number}: unknown fault kind {record.get('kind')!r} "
                               f"({', '.join(FAULT_KINDS)})")
        faults.append({**record, "file": name, "line": number})
    return kept, kept_numbers


def _parse_file(path: Path, name: str, shared: dict[str, str], warnings: list[str]
                ) -> Iterator[tuple[list[dict[str, Any]], Sequence[int]]]:
    """Yield (records, their line numbers) about a megabyte at a time; blank lines skipped, and
    a last line cut short (see :func:`_cut_short`) skipped with a warning."""
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
            if chunk and _cut_short(chunk[-1]):
                warnings.append(f"{name}:{numbers[-1]}: the last line is cut short (the load "
                                "process was stopped while writing it): skipped")
                log.warning("%s", warnings[-1])
                chunk, numbers = chunk[:-1], numbers[:-1]
            if chunk:
                yield _parse_chunk(chunk, numbers, name, shared), numbers


def _cut_short(line: str) -> bool:
    """Whether ``line`` is a last line the writer never finished: only the last line of a file
    can lack its newline, and a record cut anywhere before its newline is not valid JSON."""
    if line.endswith("\n"):
        return False
    try:
        json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return True
    return False


def _parse_chunk(lines: list[str], numbers: Sequence[int], name: str,
                 shared: dict[str, str]) -> list[dict[str, Any]]:
    try:
        records = json.loads("[" + ",".join(lines) + "]")
    except (json.JSONDecodeError, RecursionError):
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
            elif value is not None:
                raise TypeError
            value = record.get("status")
            if value is not None and value.__class__ is not int:
                raise TypeError
            value = record.get("server_ms")
            if value is not None and value.__class__ is not float and value.__class__ is not int:
                raise TypeError
            value = record.get("session")
            if value.__class__ is str:
                record["session"] = share(value, value)
            elif value is not None:
                raise TypeError
            value = record.get("side")
            if value is not None:
                record["side"] = CANONICAL_SIDES[value]
            if (record["t0"].__class__ is not int or record["t1"].__class__ is not int
                    or record["t1"] < record["t0"]):
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
    except RecursionError:
        raise HistoryError(f"{name}:{number}: nested too deeply to read (a history record is a "
                           "flat JSON object)") from None


def record_problem(record: Any) -> str | None:
    """What makes a parsed line unusable as a history record, or None if it is usable."""
    if type(record) is not dict:
        return "not a JSON object"
    if not REQUIRED_FIELDS <= record.keys():
        missing = ", ".join(sorted(REQUIRED_FIELDS - record.keys()))
        return f"missing field(s) {missing}"
    if type(record["host"]) is not str:
        return "host must be a string"
    if record["op"] not in (*OPS, FAULT):
        return f"unknown op {record['op']!r}"
    if record["type"] not in TYPES:
        return f"unknown type {record['type']!r} (ok, fail or info)"
    if record.get("side") is not None and record["side"] not in SIDES:
        return f"unknown side {record['side']!r} (offerer or answerer)"
    if type(record["t0"]) is not int or type(record["t1"]) is not int:
        return "t0 and t1 must be integers (time.monotonic_ns())"
    if record["t1"] < record["t0"]:
        return (f"t1 ({record['t1']}) is before t0 ({record['t0']}): an operation ends after "
                "it starts")
    status = record.get("status")
    if status is not None and type(status) is not int:
        return f"status must be an integer (the HTTP status) or null, not {_shown(status)}"
    client = record.get("client")
    if client is not None and type(client) is not str:
        return "client must be a string or null"
    server_ms = record.get("server_ms")
    if server_ms is not None and type(server_ms) not in (int, float):
        return f"server_ms must be a number or null, not {_shown(server_ms)}"
    if record["type"] == "ok" and record["op"] == "poll" and not _poll_read_ok(record.get("read")):
        return ("an ok poll needs read: {\"candidates\": [tokens], \"answer\" or \"offer\": "
                "token or null} (tokens are strings)")
    session = record.get("session")
    if session is not None and type(session) is not str:
        return "session must be a string or null"
    if not _is_token(record.get("value")):
        return "value must be a token (a string)"
    return None


def _shown(value: Any, limit: int = 40) -> str:
    """A wrong value as an error message quotes it: its JSON, cut to ``limit`` characters."""
    try:
        text = json.dumps(value)
    except RecursionError:
        return "a value nested too deeply to show"
    return text if len(text) <= limit else text[:limit] + "..."


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
