"""``python -m analysis check PATH...``: check run folders, print a summary, write JSON.

Exit status: 0 consistent (or, with ``--expect``, every gate passed), 1 anomalies found (or a
gate failed), 2 the input could not be checked. Errors go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from analysis.check_summary import format_gates, format_run
from analysis.checker import check_run, run_to_json, to_json
from analysis.gates import Expectation, GateError, evaluate, outcome
from analysis.history import HistoryError, find_runs, load_run
from analysis.verdicts import CONSISTENT, PASSED

EXIT_OK, EXIT_ANOMALIES, EXIT_UNCHECKABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a run folder (holds meta.json) or a comparison folder of runs")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the full result as JSON (format: docs/checker.md)")
    parser.add_argument("--expect", action="append", default=[], metavar="[RUN=]WORD",
                        help="gate: consistent, lost-writes or anomalies (analysis/gates.py), for "
                             "all runs or for one backend, run id or folder (kv=anomalies); "
                             "repeatable; exit 0 only if all pass")
    parser.add_argument("--examples", type=int, default=3, metavar="N",
                        help="explanations printed per anomaly type (default 3; JSON keeps 5)")
    parser.add_argument("--jobs", "-j", type=_jobs, default=1, metavar="N",
                        help="processes to check each run with: sessions are independent, so a "
                             "large history is checked on N cores, with the same result "
                             "(default 1)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress")


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
            result = check_run(load_run(path), jobs=args.jobs)
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
    print(f"overall: {document['verdict']}"
          + (f"; {unchecked} run(s) could not be checked" if unchecked else ""))
    if unchecked:
        return EXIT_UNCHECKABLE
    if gates:
        return EXIT_OK if outcome(gates) == PASSED else EXIT_ANOMALIES
    return EXIT_OK if document["verdict"] == CONSISTENT else EXIT_ANOMALIES
