"""``python -m analysis report <campaign>``: write report.html, summary.md and summary.json.

Reuses ``<campaign>/check.json`` when present (else runs the checker), draws the plots into
``<output>/plots/``, writes the three files into ``<output>`` (default: the campaign folder),
prints each gate, the report's path and, as its last line, the exit status and why
(``analysis.report.closing``): 1 when a gate fails (a store expected consistent was not, or a
baseline known to lose writes was not caught); for a run no gate judges, its verdict's status (0
consistent, 1 anomalies found, 3 inconclusive); 2 when the folder or the options cannot be used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from analysis.campaign import Campaign, CampaignError, load_campaign
from analysis.gates import Expectation, GateError, with_defaults
from analysis.plot_cli import (
    PLOT_DIR,
    add_common_arguments,
    comparison_time_scale,
    make_plots,
)
from analysis.report import build_summary
from analysis.report_render import MARK, render_html, render_markdown
from analysis.verdicts import EXIT_UNCHECKABLE
from server.stores import BACKENDS

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", type=Path,
                        help="a comparison folder (one run folder per backend) or one run folder")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for report.html, summary.md, summary.json and plots/ "
                             "(default: the campaign folder)")
    defaults = ", ".join(f"{name}={b.expected}" for name, b in BACKENDS.items())
    parser.add_argument("--expect", action="append", default=[], metavar="[RUN=]WORD",
                        help="gate: consistent, lost-writes or anomalies (analysis/gates.py), for "
                             "all runs or for one backend, run id or folder; repeatable "
                             f"(defaults for runs no --expect names: {defaults}; any other run "
                             "is reported, not gated)")
    add_common_arguments(parser)


def fail(message: str) -> int:
    print(f"python -m analysis report: {message}", file=sys.stderr)
    return EXIT_UNCHECKABLE


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        explicit = [Expectation.parse(text) for text in args.expect]
        campaign = load_campaign(args.campaign, args.check_json, args.recheck,
                                 args.min_verified)
    except (CampaignError, GateError) as error:
        return fail(str(error))
    expectations = with_defaults(explicit, [run.check for run in campaign.runs])
    try:
        summary = write_report(campaign, expectations, args.output or args.campaign, args.bucket)
    except GateError as error:
        return fail(str(error))
    return exit_status(summary)


def write_report(campaign: Campaign, expectations: list[Expectation], output: Path,
                 bucket_s: float | None = None) -> dict[str, Any]:
    """Draw the plots and write report.html, summary.md and summary.json into ``output``;
    print each gate, the report's path and, last, the closing line (the exit status and why).
    Returns the summary."""
    plots = make_plots(campaign, output / PLOT_DIR, bucket_s)
    described = [{"name": p.name, "title": p.title, "caption": p.caption,
                  "png": str(p.png.relative_to(output)), "svg": str(p.svg.relative_to(output))}
                 for p in plots]
    summary = build_summary(campaign, expectations, described, comparison_time_scale(campaign),
                            output)
    images = {p.name: p.png.read_bytes() for p in plots}
    report = output / "report.html"
    report.write_text(render_html(summary, images), encoding="utf-8")
    (output / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    (output / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s, summary.md and summary.json", report)
    for gate in summary["gates"]:
        print(f"{MARK[gate['passed']]} {gate['store']}: {gate['message']}")
    print(f"report: {report}")
    print(summary["closing"])
    return summary


def exit_status(summary: dict[str, Any]) -> int:
    """The status :func:`write_report`'s last line states (``analysis.report.closing``)."""
    return int(summary["exit_status"])
