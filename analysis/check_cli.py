"""``python -m analysis check PATH...``: check run folders, print a summary, write JSON.

Exit status (``analysis.verdicts``): 0 consistent, 1 anomalies found, 3 inconclusive (too little
evidence to call it consistent), 2 the input could not be checked; with ``--expect``, 0 when every
gate passed and 1 when one failed. Errors go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from analysis.check_summary import format_gates, format_run
from analysis.checker import check_run, run_to_json, to_json
from analysis.checker.evidence import DEFAULT_MIN_VERIFIED
from analysis.gates import Expectation, GateError, evaluate, outcome
from analysis.history import HistoryError, find_runs, load_run
from analysis.verdicts import EXIT_GATE_FAILED, EXIT_STATUS, EXIT_UNCHECKABLE, PASSED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a run folder (holds meta.json) or a comparison folder of runs")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the full result as JSON (format: docs/checker.md)")
    parser.add_argument("--expect", action="append", default=[], metavar="[RUN=]WORD",
                        help="gate: consistent, lost-writes or anomalies (analysis/gates.py), for "
                             "all runs or for one backend, run id or folder (kv=anomalies); "
                             "repeatable; exit 0 only if all pass")
    add_min_verified(parser)
    parser.add_argument("--examples", type=int, default=3, metavar="N",
                        help="explanations printed per anomaly type (default 3; JSON keeps 5)")
    parser.add_argument("--jobs", "-j", type=_jobs, default=1, metavar="N",
                        help="processes to check each run with: sessions are independent, so a "
                             "large history is checked on N cores, with the same result "
                             "(default 1)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress")


def share(text: str) -> float:
    """An argparse type: a share from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 0 to 1")
    return value


def add_min_verified(parser: argparse.ArgumentParser) -> None:
    """``--min-verified``, shared by every command that runs the checker."""
    parser.add_argument("--min-verified", type=share, default=DEFAULT_MIN_VERIFIED,
                        metavar="SHARE",
                        help="share of the sessions with an acknowledged write that must be "
                             "verified after settling for a run to be called consistent; "
                             "fewer make it inconclusive (default: %(default)s)")


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return jobs


def fail(message: str) -> int:
    print(f"python -m analysis check: {message}", file=sys.stderr)
    return EXIT_UNCHECKABLE


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        expectations = [Expectation.parse(text) for text in args.expect]
        run_paths = find_runs(args.paths)
    except (GateError, HistoryError) as error:
        return fail(str(error))
    entries = []
    unchecked = 0
    for path in run_paths:
        try:
            result = check_run(load_run(path), args.min_verified, jobs=args.jobs)
        except HistoryError as error:
            fail(f"cannot check {path}: {error}")
            unchecked += 1
            continue
        entries.append(run_to_json(result))
        print(format_run(result, args.examples))
        print()
    try:
        gates = evaluate(expectations, entries)
    except GateError as error:
        return fail(str(error))
    document = to_json(entries, [g.as_json() for g in gates])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    if gates:
        print(format_gates(gates))
    if unchecked:
        status = EXIT_UNCHECKABLE
    elif gates:
        status = 0 if outcome(gates) == PASSED else EXIT_GATE_FAILED
    else:
        status = EXIT_STATUS[document["verdict"]]
    print(f"overall: {document['verdict'] if entries else 'nothing could be checked'}"
          + (f"; gates {outcome(gates)}" if gates else "")
          + (f"; {unchecked} run(s) could not be checked" if unchecked else "")
          + f" (exit {status})")
    return status
