"""Wires the recording into Locust's life cycle through its event hooks.

- ``init_command_line_parser``: our options (``_options``).
- ``init``: ``--tags`` select whole scenarios (``_selection``); a distributed runner registers
  the messages that carry the workers' histories to the master (``_streaming``).
- ``test_start``: the master or local runner asks the target for its settings, resolves the run
  id, settle time and backend name into ``parsed_options`` (which the master then ships to its
  workers) and writes ``meta.json``; every process that runs users opens its history file.
- ``test_stop``: processes that ran users start their final reads; the master or local runner
  rewrites ``meta.json`` with the measured duration. When a process's final reads are written,
  it logs where the history is and the one command that checks it (after a stop from the web UI
  this is how to find it), and a local runner adds how the store settled to ``meta.json``.
- ``quitting``: waits for the final reads and closes the history. If Locust quits before the users
  stopped (a SIGINT, or a ``--stop-timeout`` longer than the master waits for its workers), the
  users are stopped here first, so the final reads still follow the load. A master waits until
  every worker's history has arrived.
- ``quit``: a master that forked its workers (``--processes``) waits for them (``_forked_workers``).

Importing this module registers the listeners once per process; every scenario imports it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadtests._final_reads import FinalReads, ensure_final_reads
from loadtests._forked_workers import wait_for_children
from loadtests._meta import (
    backend_name,
    build_meta,
    default_run_id,
    default_settle_mode,
    default_settle_model_s,
    fetch_target_config,
    utc_now,
    write_meta,
)
from loadtests._options import add_arguments, load_options
from loadtests._recording import current_recording, history_dir, open_recording
from loadtests._selection import select_by_tags
from loadtests._streaming import attach, collector_for

log = logging.getLogger(__name__)

FINAL_READS_GRACE_S = 600.0  # beyond the settle time; each read is bounded by its HTTP timeout


@dataclass
class _RunMeta:
    """One run's meta.json; a run is one Locust process, which the web UI may start repeatedly."""

    path: Path
    config: dict[str, Any] | None
    started: dt.datetime
    started_monotonic: float
    stopped_monotonic: float | None = None
    earlier_load_s: float = 0.0  # load time of the earlier tests of this run (web UI restarts)

    @property
    def load_s(self) -> float:
        """Seconds of load in this run so far."""
        end = self.stopped_monotonic if self.stopped_monotonic is not None else time.monotonic()
        return self.earlier_load_s + end - self.started_monotonic


_metas: weakref.WeakKeyDictionary[Any, _RunMeta] = weakref.WeakKeyDictionary()
_forking_master: dict[str, float] = {}  # set in a --processes master: how long to wait for workers


def _runs_users(environment: Any) -> bool:
    return not isinstance(environment.runner, MasterRunner)


def _coordinates(environment: Any) -> bool:
    return not isinstance(environment.runner, WorkerRunner)


def _host(environment: Any) -> str:
    if environment.host:
        return environment.host
    hosts = {getattr(cls, "host", None) for cls in environment.user_classes} - {None}
    return hosts.pop() if len(hosts) == 1 else ""


def _meta_document(environment: Any, run: _RunMeta, stopped: bool) -> dict[str, Any]:
    """The run's meta.json as things stand; with this process's final reads once written
    (whichever of Locust's hooks writes it last, it says how the store settled)."""
    parsed = environment.parsed_options
    recording = current_recording(environment)
    final_reads = recording.final_reads if recording is not None else None
    if final_reads is not None and not final_reads.outcome:
        final_reads = None
    runner = environment.runner
    now = utc_now()
    return build_meta(
        options=load_options(parsed),
        config=run.config,
        host=_host(environment),
        scenarios=sorted(cls.__name__ for cls in environment.user_classes),
        users=getattr(runner, "target_user_count", None) or getattr(parsed, "num_users", None),
        spawn_rate=getattr(runner, "spawn_rate", None) or getattr(parsed, "spawn_rate", None),
        duration_s=round(run.load_s, 3) if stopped else getattr(parsed, "run_time", None),
        started=run.started,
        tags=getattr(parsed, "tags", None),
        stopped=now if stopped else None,
        settling=final_reads.outcome if final_reads else None,
        unsupported=recording.unsupported if recording is not None else None,
    )


def _resolve_run(environment: Any) -> None:
    """Fill in run id and settle time from the target, then write meta.json."""
    if environment.parsed_options is None:
        environment.parsed_options = argparse.Namespace()
    parsed = environment.parsed_options
    options = load_options(parsed)
    host = _host(environment)
    config = fetch_target_config(host) if host else None
    started = utc_now()
    if not options.run_id:
        parsed.run_id = default_run_id(backend_name(options, config, host), started)
    if options.settle_model_s is None:
        # As a string, like the option it stands for: the web UI converts what its form sends
        # (a blank, to resolve it again at the next start) to the type of the current value.
        parsed.settle = f"{default_settle_model_s(config, options.time_scale):g}"
    if options.settle_mode is None:
        parsed.settle_mode = default_settle_mode(config)
    folder = history_dir(load_options(parsed))
    collector = collector_for(environment)
    if collector is not None:
        collector.folder = folder
    run = _RunMeta(folder.parent / "meta.json", config, started, time.monotonic())
    earlier = _metas.get(environment)
    if earlier is not None and earlier.path == run.path:  # another start in the same web UI
        run.started, run.earlier_load_s = earlier.started, earlier.load_s
    _metas[environment] = run
    write_meta(run.path, _meta_document(environment, run, stopped=False))


def _final_reads_done(environment: Any, final_reads: FinalReads) -> None:
    """Say where the history is and how to check it; a local runner records how it settled."""
    folder = history_dir(final_reads.recording.options).parent
    run = _metas.get(environment)
    if run is not None and _coordinates(environment):
        write_meta(run.path, _meta_document(environment, run, stopped=True))
        log.info("the history is in %s; check it with: python -m analysis check %s", folder,
                 folder)
    else:
        log.info("this worker's history is in %s; check the run once every worker's history "
                 "is beside the master's meta.json: python -m analysis check <run folder>",
                 final_reads.recording.history.path)


def _start_final_reads(environment: Any, recording: Any) -> FinalReads:
    return ensure_final_reads(recording, _host(environment),
                              lambda final_reads: _final_reads_done(environment, final_reads))


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    select_by_tags(environment)
    attach(environment)
    hosts = load_options(environment.parsed_options).hosts
    if hosts and not environment.host:  # --hosts alone: Locust's --host is the first of them
        environment.host = hosts[0]
    parsed = environment.parsed_options
    if isinstance(environment.runner, MasterRunner) and getattr(parsed, "processes", None):
        _forking_master["timeout"] = 1.0  # the real bound is set when the test stops


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    if _coordinates(environment):
        _resolve_run(environment)
    if _runs_users(environment):
        open_recording(environment)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    recording = current_recording(environment)
    if recording is not None and not recording.history.closed:
        _start_final_reads(environment, recording)
    if _forking_master:
        options = load_options(environment.parsed_options)
        _forking_master["timeout"] = (options.settle_s + (environment.stop_timeout or 0.0)
                                      + FINAL_READS_GRACE_S)
    run = _metas.get(environment)
    if run is not None and _coordinates(environment):
        if run.stopped_monotonic is None:
            run.stopped_monotonic = time.monotonic()
        write_meta(run.path, _meta_document(environment, run, stopped=True))


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    collector = collector_for(environment)
    if collector is not None:
        options = load_options(environment.parsed_options)
        collector.wait_for_workers(environment.runner, options.settle_s
                                   + (environment.stop_timeout or 0.0) + FINAL_READS_GRACE_S)
    recording = current_recording(environment)
    if recording is None or recording.history.closed:
        return
    runner = environment.runner
    if recording.final_reads is None and runner is not None and runner.user_greenlets:
        log.warning("quitting while %d users still run: stopping them before the final reads",
                    len(runner.user_greenlets))
        runner.user_greenlets.kill(block=True)  # yields: test_stop may start the reads meanwhile
    final_reads = _start_final_reads(environment, recording)
    grace = recording.options.settle_s + FINAL_READS_GRACE_S
    if not final_reads.wait(grace):
        log.error("final reads unfinished after %.0f s; the history lacks some of them", grace)
    recording.history.close()


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    if _forking_master:
        wait_for_children(_forking_master["timeout"])
