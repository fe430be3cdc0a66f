"""``python -m analysis check PATH...``: check run folders, print a summary, write JSON.

Exit status: 0 consistent (or, with ``--expect``, every gate passed), 1 anomalies found (or a
gate failed), 2 the input could not be checked.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from analysis.check_gates import Expectation, GateError, evaluate
from analysis.check_summary import format_gates, format_run
from analysis.checker import check_run, to_json
from analysis.checker.result import CONSISTENT, RunResult
from analysis.history import HistoryError, find_runs, load_run

EXIT_OK, EXIT_ANOMALIES, EXIT_UNCHECKABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a run folder (holds meta.json) or a comparison folder of runs")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the full result as JSON (format: docs/checker.md)")
    parser.add_argument("--expect", action="append", default=[], metavar="[RUN=]VERDICT",
                        help="gate: consistent, lost-writes or anomalies (analysis/gates.py), for "
                             "all runs or for one backend or run (kv=anomalies); repeatable; "
                             "exit 0 only if all pass")
    parser.add_argument("--examples", type=int, default=3, metavar="N",
                        help="explanations printed per anomaly type (default 3; JSON keeps 5)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        expectations = [Expectation.parse(text) for text in args.expect]
        run_paths = find_runs(args.paths)
    except (GateError, HistoryError) as error:
        print(f"check: {error}", file=sys.stderr)
        return EXIT_UNCHECKABLE
    results: list[RunResult] = []
    unchecked = 0
    for path in run_paths:
        try:
            results.append(check_run(load_run(path)))
        except HistoryError as error:
            print(f"check: cannot check {path}: {error}", file=sys.stderr)
            unchecked += 1
            continue
        print(format_run(results[-1], args.examples))
        print()
    try:
        gates = evaluate(expectations, results)
    except GateError as error:
        print(f"check: {error}", file=sys.stderr)
        return EXIT_UNCHECKABLE
    document = to_json(results, gates)
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
        return EXIT_OK if all(gate["passed"] for gate in gates) else EXIT_ANOMALIES
    return EXIT_OK if document["verdict"] == CONSISTENT else EXIT_ANOMALIES
