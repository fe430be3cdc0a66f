"""Per load-generating process: the history file, the token source and the sessions touched.

One ``Recording`` exists per Locust ``Environment`` in a process that runs users (a local runner
or a worker; never a master). It is opened at test start, after the master resolved the run id,
and closed when Locust quits, after the final reads. A local runner writes its history file
itself; a worker sends its lines to the master, which writes the same file (``_streaming``).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust.runners import WorkerRunner

from loadtests._history import HistoryFile
from loadtests._identity import history_file_name
from loadtests._options import LoadOptions, load_options
from loadtests._streaming import HistoryStream
from loadtests._tokens import TokenSource

if TYPE_CHECKING:
    from loadtests._final_reads import FinalReads


def history_dir(options: LoadOptions) -> Path:
    """``--history-dir``, else ``results/<run-id>/history``."""
    if options.history_dir:
        return Path(options.history_dir)
    if not options.run_id:
        raise RuntimeError("no run id: the master (or local runner) resolves it at test start")
    return Path("results") / options.run_id / "history"


@dataclass
class Recording:
    """What the scenarios of one process write to and read from."""

    options: LoadOptions
    history: HistoryFile | HistoryStream
    """Written here, or, on a worker of a distributed run, sent to the master."""
    tokens: TokenSource = field(default_factory=TokenSource)
    sessions: dict[str, str] = field(default_factory=dict)  # code -> scenario that touched it
    unsupported: dict[str, str] = field(default_factory=dict)
    """Operations whose route the target lacks, with what it answered (``_transport``)."""
    final_reads: FinalReads | None = None  # the current test's, once it stopped
    _users: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_user(self) -> int:
        """A per-process user number; 0 is kept for the final reads."""
        return next(self._users)


_recordings: weakref.WeakKeyDictionary[Any, Recording] = weakref.WeakKeyDictionary()


def open_recording(environment: Any) -> Recording:
    """The environment's recording, (re)opened with the options as they stand at test start."""
    options = load_options(environment.parsed_options)
    path = history_dir(options) / history_file_name()
    current = _recordings.get(environment)
    if current is not None:  # a new test in the same process (the web UI's start after stop)
        if current.final_reads is not None:
            current.final_reads.wait()
            current.final_reads = None
        if current.history.path == path and not current.history.closed:
            current.options = options
            return current
        current.history.close()
    if isinstance(environment.runner, WorkerRunner):
        history: HistoryFile | HistoryStream = HistoryStream(
            environment.runner, path.stem, path)
    else:
        history = HistoryFile(path)
    recording = Recording(options=options, history=history)
    if current is not None:  # keep tokens and user numbers unique within the process
        recording.tokens, recording._users = current.tokens, current._users
        recording.unsupported = current.unsupported
    _recordings[environment] = recording
    return recording


def recording_for(environment: Any) -> Recording:
    """The recording opened at test start; users are created only after it."""
    try:
        return _recordings[environment]
    except KeyError:
        raise RuntimeError("no history recording: loadtests._lifecycle was not loaded, "
                           "or users were spawned without a test start") from None


def current_recording(environment: Any) -> Recording | None:
    return _recordings.get(environment)
