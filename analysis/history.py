"""Reading run folders: ``meta.json`` plus every ``history/*.jsonl`` file, merged.

The format is ``docs/history.md`` (version 2; folders of version 1, which had no fault records,
are read as they are). Loading is the slow part of checking a large
history, and a million records must fit in a few hundred megabytes, so each record becomes a
:class:`Record`, a msgspec ``Struct`` (fixed slots, not a dict of its keys; untracked by the
cycle collector), decoded straight from the file's bytes a megabyte at a time by msgspec's typed
JSON-lines decoder, which also checks most of the format. Equal strings (session codes,
clients, hosts) and equal reads are shared between records, since a session's polls repeat the
same ones many times. Where each record came from is kept in compact arrays rather than in the
records; the proving records the checker cites are read back from their lines
(:meth:`LoadedRun.line_json`), so its JSON shows each line exactly as it was written. The
nemesis's fault records, a few per run, are not operations: they are set apart as they are read
(:attr:`LoadedRun.faults`).

Bad input never gets past here: every line the checker could not use (a field of the wrong type,
JSON nested too deeply to parse, a history file that is a folder) raises :class:`HistoryError`
naming the file, the line and what is wrong. A chunk the fast decoder refuses is read again line
by line with the standard ``json`` module and :func:`record_problem`, which say exactly what is
wrong; what they accept is built into a record as it is. The one exception is the format's
promise to a killed load process: a last line cut short (no newline, not valid JSON) is skipped,
with a warning kept in :attr:`LoadedRun.warnings`.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import logging
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import msgspec
import numpy as np

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

OK, PROTOCOL, REFUSED, NO_RESPONSE = "ok", "protocol", "refused", "no response"
"""How an operation ended for the client that made it (:func:`outcome`)."""

Token = Union[str, int, float, bool, None]
"""A value as the history records it: a token (docs/history.md), never a list or an object."""


class Read(msgspec.Struct, frozen=True, gc=False):
    """What an ok read returned (``read`` of docs/history.md): a poll's ``candidates`` and
    ``answer`` (offerer side) or ``offer`` (answerer side), a listing's ``sessions``. Frozen,
    so that equal reads (a settled session polled many times) are one shared object."""

    candidates: tuple[Token, ...] | None = None
    answer: Token = None
    offer: Token = None
    sessions: tuple[Token, ...] | None = None


class Record(msgspec.Struct, gc=False):
    """One line of a history: the fields of docs/history.md, an absent one as None.

    Other keys a line may carry are not kept here; the line itself is
    (:meth:`LoadedRun.line_json`)."""

    op: Literal["create", "answer", "candidate", "poll", "list", "leave"]
    t0: int
    t1: int
    host: str
    type: Literal["ok", "fail", "info"]
    session: str | None = None
    side: Literal["offerer", "answerer"] | None = None
    client: str | None = None
    value: Token = None
    status: int | None = None
    read: Read | None = None
    final: Any = None
    settling: Any = None
    error: Any = None
    server_ms: float | None = None
    scenario: Any = None
    target: Any = None


RECORD_FIELDS = Record.__struct_fields__
READ_FIELDS = Read.__struct_fields__
_DECODER = msgspec.json.Decoder(Record)


class HistoryError(ValueError):
    """Input that cannot be checked; the message names the file (and line) and what is wrong."""


class _Unusable(Exception):
    """A chunk the fast path will not take: it is read again line by line to say why."""


@dataclass
class LoadedRun:
    """One run folder in memory: its metadata and every record of every history file."""

    path: Path
    meta: dict[str, Any]
    records: list[Record]
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
    _line_starts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Per history file, the byte offset of each line, built when a line is first read back."""

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

    def line_json(self, index: int) -> dict[str, Any]:
        """``records[index]`` as its line's JSON, every key as written, read back from the file
        (the checker cites only a few records, so none of them is kept in memory twice)."""
        file, line = self.origin(index)
        starts = self._line_starts.get(file)
        if starts is None:
            starts = self._line_starts[file] = _line_starts(self.path / file)
        with (self.path / file).open("rb") as handle:
            handle.seek(int(starts[line - 1]))
            return json.loads(handle.readline())


def _line_starts(path: Path) -> np.ndarray:
    """The byte offset at which each line of ``path`` begins (line ``n`` at index ``n - 1``)."""
    parts = [np.zeros(1, dtype=np.int64)]
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(16 * CHUNK_BYTES):
            parts.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset + 1)
            offset += len(chunk)
    return np.concatenate(parts)


def protocol_refusal(record: Record) -> bool:
    """A 409 to a second, different answer: the write-once answer doing its job (the protocol
    working, never an error in a table, a plot or the checker's evidence)."""
    return record.op == "answer" and record.status == 409


def outcome(record: Record) -> str:
    """:data:`OK`, :data:`PROTOCOL` (:func:`protocol_refusal`), :data:`REFUSED` (any other
    response that is not a success) or :data:`NO_RESPONSE` (a timeout, a refused connection, an
    operation the load stopped under)."""
    if record.type == "ok":
        return OK
    if protocol_refusal(record):
        return PROTOCOL
    return NO_RESPONSE if record.status is None else REFUSED


def after_load(record: Record) -> bool:
    """A read taken after the load stopped: a final read, or a round of reads while the store
    settled (``settling``, docs/loadtests.md). Latency and throughput figures leave them out."""
    return bool(record.final or record.settling)


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
    shared: dict[Any, Any] = {}
    with gc_paused():
        for history_file in history_files:
            relative = history_file.relative_to(path).as_posix()
            if not history_file.is_file():
                raise HistoryError(f"{relative}: not a file (a history is a file of JSON lines)")
            run.files.append(relative)
            run.file_starts.append(len(run.records))
            try:
                for records, line_numbers in _parse_file(history_file, relative, shared,
                                                         run.warnings, run.faults):
                    run.records += records
                    run.line_numbers.extend(line_numbers)
            except OSError as error:
                raise HistoryError(f"{relative}: cannot be read ({error.strerror or error})"
                                   ) from None
    run.faults.sort(key=lambda fault: fault["t0"])
    log.debug("loaded %d records and %d faults from %d files of %s", len(run.records),
              len(run.faults), len(run.files), path)
    return run


def _parse_file(path: Path, name: str, shared: dict[Any, Any], warnings: list[str],
                faults: list[dict[str, Any]]) -> Iterator[tuple[list[Record], range | list[int]]]:
    """Yield (records, their line numbers) about a megabyte at a time; blank lines skipped, a
    last line cut short (see :func:`_cut_short`) skipped with a warning, and fault records put
    into ``faults`` (the typed decoder refuses their ``op``, so their chunk takes the slow
    path)."""
    first = 1
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if not chunk.endswith(b"\n"):
                chunk += handle.readline()
            lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
            try:
                records = _DECODER.decode_lines(chunk)
                if len(records) != lines:  # blank lines: number the others one by one
                    raise _Unusable
                _finish(records, shared)
                numbers: range | list[int] = range(first, first + lines)
            except (msgspec.DecodeError, _Unusable):
                records, numbers = _parse_lines(chunk, first, name, shared, warnings, faults)
            first += lines
            if records:
                yield records, numbers


def _finish(records: list[Record], shared: dict[Any, Any]) -> None:
    """What the typed decoder cannot check, and the sharing of equal strings and reads; raises
    :class:`_Unusable` at the first record that breaks a rule.

    This loop runs once per record, so it does only what it must: sharing a session's code,
    client and host (each repeats in every poll) and its reads (a settled list is polled many
    times), the order of ``t0`` and ``t1``, and an ok poll's read.
    """
    share = shared.setdefault
    for record in records:
        value = record.session
        if value is not None:
            record.session = share(value, value)
        value = record.client
        if value is not None:
            record.client = share(value, value)
        value = record.host
        record.host = share(value, value)
        value = record.read
        if value is not None:
            record.read = share(value, value)
            if value.candidates is None and record.op == "poll" and record.type == "ok":
                raise _Unusable
        elif record.op == "poll" and record.type == "ok":
            raise _Unusable
        if record.t1 < record.t0:
            raise _Unusable


def _parse_lines(chunk: bytes, first: int, name: str, shared: dict[Any, Any],
                 warnings: list[str], faults: list[dict[str, Any]]
                 ) -> tuple[list[Record], list[int]]:
    """The slow path: each line on its own, so that an error names its line; a fault record
    goes into ``faults`` with its file and line."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    records: list[Record] = []
    numbers: list[int] = []
    last = first + len(lines) - 1
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        if number == last and not chunk.endswith(b"\n") and _cut_short(line):
            warnings.append(f"{name}:{number}: the last line is cut short (the load process "
                            "was stopped while writing it): skipped")
            log.warning("%s", warnings[-1])
            continue
        parsed = _parse_line(line, number, name, shared)
        if isinstance(parsed, dict):
            faults.append({**parsed, "file": name, "line": number})
            continue
        records.append(parsed)
        numbers.append(number)
    return records, numbers


def _cut_short(line: bytes) -> bool:
    """Whether ``line``, the last of a file and without its newline, is one the writer never
    finished: a record cut anywhere before its newline is not valid JSON."""
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return True
    return False


def _parse_line(line: bytes, number: int, name: str, shared: dict[Any, Any]
                ) -> Record | dict[str, Any]:
    """One line as a record, its strings and read shared through ``shared`` (a fault record
    as its JSON), or :class:`HistoryError` saying what is wrong with it."""
    try:
        record = _DECODER.decode(line)
        _finish([record], shared)  # sharing an equal string first is harmless if it refuses
        return record
    except (msgspec.DecodeError, _Unusable):
        pass
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HistoryError(f"{name}:{number}: not UTF-8 text ({error})") from None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise HistoryError(
            f"{name}:{number}: not valid JSON ({error.msg}, column {error.colno})") from None
    except RecursionError:
        raise HistoryError(f"{name}:{number}: nested too deeply to read (a history record is a "
                           "flat JSON object)") from None
    problem = record_problem(parsed)
    if problem:
        raise HistoryError(f"{name}:{number}: {problem}")
    if parsed["op"] == FAULT:
        if parsed.get("kind") not in FAULT_KINDS:
            raise HistoryError(f"{name}:{number}: unknown fault kind {parsed.get('kind')!r} "
                               f"({', '.join(FAULT_KINDS)})")
        return parsed
    record = record_from_json(parsed)
    _finish([record], shared)  # cannot refuse: record_problem checked all that it checks
    return record


def record_from_json(line: dict[str, Any]) -> Record:
    """A usable line (:func:`record_problem` finds nothing) as a record, its values as they
    are: what the typed decoder refuses (an integer too large for it, say) but the format
    allows. Keys that are not fields of :class:`Record` are left out."""
    fields = {name: line[name] for name in RECORD_FIELDS if name in line}
    read = fields.get("read")
    if read is not None:
        parts = {name: read[name] for name in READ_FIELDS if name in read}
        for name in ("candidates", "sessions"):
            if parts.get(name) is not None:
                parts[name] = tuple(parts[name])
        fields["read"] = Read(**parts)
    return Record(**fields)


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
    if not _read_ok(record.get("read")):
        return ("read must be null or an object: \"candidates\" and \"sessions\" lists of "
                "tokens, \"answer\" and \"offer\" tokens (each may be absent)")
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


def _read_ok(read: Any) -> bool:
    if read is None:
        return True
    if type(read) is not dict:
        return False
    lists = (read.get("candidates"), read.get("sessions"))
    return (all(part is None or (type(part) is list and all(map(_is_token, part)))
                for part in lists)
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
