"""The comparison's steps, in order: refuse a used folder, load every target, check every
history, report, and judge the gates.

A Ctrl-C or a SIGTERM stops every process started here (and the throwaway PostgreSQL cluster)
and keeps what was recorded, which the analysis can still read. The histories are read once:
each run is loaded and checked here, and the report is drawn from those same loaded runs and
results.
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

from analysis.campaign import CHECK_FILE, campaign_of
from analysis.check_summary import format_run
from analysis.checker import check_run, run_to_json, to_json
from analysis.gates import evaluate
from analysis.history import load_run
from analysis.report_cli import exit_status, write_report
from comparison.databases import Databases
from comparison.load import run_target
from comparison.settings import ComparisonSettings
from server.pgcluster import PostgresMissing, find_binaries
from server.stores import needs_postgres


def analyse(settings: ComparisonSettings) -> int:
    """Check every run once, write check.json, then the report; the gates give the exit status."""
    loaded = [load_run(settings.output / target) for target in settings.targets]
    entries = []
    for run in loaded:
        result = check_run(run)
        print(format_run(result), flush=True)
        entries.append(run_to_json(result))
    gates = evaluate(settings.expect, entries)
    document = to_json(entries, [g.as_json() for g in gates])
    check_path = settings.output / CHECK_FILE
    check_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    campaign = campaign_of(settings.output, loaded, entries, str(check_path))
    return exit_status(write_report(campaign, list(settings.expect), settings.output))


def run_campaign(settings: ComparisonSettings) -> int:
    targets = settings.targets
    taken = [settings.output / t for t in targets if (settings.output / t).exists()]
    if taken:
        # Mixing two runs' histories in one folder would make the checker judge both at once.
        raise RuntimeError(f"{taken[0]} already holds a run: choose another --output")
    if (not settings.host and needs_postgres(settings.backends) and not settings.dsn
            and find_binaries() is None):
        raise PostgresMissing()
    settings.output.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Databases(settings.output, settings.dsn) as databases:
            for number, target in enumerate(targets, 1):
                dsn = None if settings.host else databases.dsn(target)
                run_target(settings, target, f"{target} {number}/{len(targets)}", dsn)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every process started here is stopped; what was recorded is in "
              f"{settings.output} (analyse it with: python -m analysis report {settings.output})",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return analyse(settings)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the comparison as a Ctrl-C does: everything started here is stopped."""
    raise KeyboardInterrupt
