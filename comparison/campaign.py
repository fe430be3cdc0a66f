"""The comparison's steps, in order: refuse a used folder, load every target, check every
history, report, and judge the gates.

A Ctrl-C or a SIGTERM (what a CI timeout sends) stops every process started here (and the
throwaway PostgreSQL cluster) and keeps what was recorded, which the analysis can still read.
The histories are read once: each run is loaded and checked here, and the report is drawn from
those same loaded runs and results. Only the runs made by this invocation are judged: a folder
that already holds anything is refused, so no earlier run can be checked under another store's
expectation.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from analysis.campaign import CHECK_FILE, campaign_of
from analysis.check_summary import format_run
from analysis.checker import check_run, run_to_json, to_json
from analysis.gates import evaluate
from analysis.history import HistoryError, LoadedRun, load_run
from analysis.report_cli import exit_status, write_report
from analysis.stats import SHORT_OF_RATE, arrival_rate
from comparison.databases import Databases
from comparison.load import run_target
from comparison.settings import ComparisonSettings
from server.pgcluster import INSTALL_HINT, PostgresMissing, find_binaries
from server.stores import needs_postgres


class Stopped(KeyboardInterrupt):
    """A stop signal other than Ctrl-C arrived (SIGTERM): handled as Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def analyse(settings: ComparisonSettings) -> int:
    """Check every run once, write check.json, then the report; its closing line gives the exit
    status."""
    loaded = []
    for name in (name for target in settings.targets for name in settings.run_names(target)):
        try:
            loaded.append(load_run(settings.output / name))
        except HistoryError as error:
            raise RuntimeError(f"nothing to check for {name}: {error} (Locust stopped before "
                               f"it recorded anything? see {settings.output / name / 'locust'})"
                               ) from None
    entries = []
    for run in loaded:
        result = check_run(run, settings.min_verified)
        print(format_run(result), flush=True)
        print(arrival_line(run, settings.wall_rate), flush=True)
        entries.append(run_to_json(result))
    gates = evaluate(settings.expect, entries)
    document = to_json(entries, [g.as_json() for g in gates])
    check_path = settings.output / CHECK_FILE
    check_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    campaign = campaign_of(settings.output, loaded, entries, str(check_path), check_path)
    return exit_status(write_report(campaign, list(settings.expect), settings.output))


def arrival_line(run: LoadedRun, target: float) -> str:
    """How many sessions the run started a wall second, against the rate every store was
    given: below it, the store (or the machine) could not keep up, and its latencies are not
    at the same load as the others'."""
    rate = arrival_rate(run.records)
    line = f"{run.path.name}: {rate:.1f} sessions started per wall second (target {target:g})"
    if rate < SHORT_OF_RATE * target:
        line += (" - short of the target: this run's latencies are not at the others' load; "
                 "give a lower --arrival-rate")
    return line


def refuse_used(output: Path) -> None:
    """Refuse an ``--output`` folder that already holds something: its runs would be read with
    this invocation's (a comparison folder is every run in it), under the wrong expectations."""
    if not output.exists():
        return
    if not output.is_dir():
        raise RuntimeError(f"--output {output}: not a folder")
    held = sorted(child.name + ("/" if child.is_dir() else "") for child in output.iterdir())
    if held:
        shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        raise RuntimeError(f"--output {output} already holds {shown} (an earlier run?): only "
                           "the runs made now may be judged, so choose a new folder")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the body runs, SIGTERM raises :class:`Stopped` (a KeyboardInterrupt), so the same
    ``finally`` blocks that stop the children on Ctrl-C stop them on SIGTERM too. A second
    SIGTERM is ignored, so it cannot cut that clean-up short (SIGKILL still ends everything)."""
    def stop(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_IGN)
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_campaign(settings: ComparisonSettings) -> int:
    targets = settings.targets
    refuse_used(settings.output)
    if (not settings.host and needs_postgres(settings.backends) and not settings.dsn
            and find_binaries() is None):
        raise PostgresMissing()
    settings.output.mkdir(parents=True, exist_ok=True)
    if settings.left_out:
        print(f"comparing {', '.join(settings.backends)}; {', '.join(settings.left_out)} left "
              f"out: {INSTALL_HINT}", flush=True)
    print(settings.rate_words(), flush=True)
    runs = [(target, name) for target in targets for name in settings.run_names(target)]
    with sigterm_as_interrupt():
        try:
            with Databases(settings.output, settings.dsn) as databases:
                for number, (target, name) in enumerate(runs, 1):
                    dsn = None if settings.host else databases.dsn(target, name)
                    run_target(settings, target, f"{name} {number}/{len(runs)}", dsn, name)
            return analyse(settings)
        except KeyboardInterrupt as interrupt:
            signum = interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT
            print(f"\ninterrupted ({signal.Signals(signum).name}): every process started here "
                  "is stopped; "
                  f"what was recorded is in {settings.output} (analyse it with: python -m "
                  f"analysis report {settings.output})", file=sys.stderr)
            return 128 + signum
