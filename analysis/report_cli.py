"""``python -m analysis report <campaign>``: write report.html, summary.md and summary.json.

Reuses ``<campaign>/check.json`` when present (else runs the checker), draws the plots into
``<output>/plots/``, writes the three files into ``<output>`` (default: the campaign folder),
prints each gate and, as its last line, the report's path. The exit status is 1 when a gate
fails (a store expected consistent was not, or a baseline known to lose writes was not caught),
2 when the folder or the options cannot be used, else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from analysis.campaign import CampaignError, load_campaign
from analysis.plot_cli import PLOT_DIR, add_common_arguments, comparison_time_scale, make_plots
from analysis.gates import DEFAULT_EXPECTATIONS
from analysis.report import ExpectationError, build_summary, \
    parse_expectations
from analysis.report_render import MARK, render_html, render_markdown

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", type=Path,
                        help="a comparison folder (one run folder per backend) or one run folder")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for report.html, summary.md, summary.json and plots/ "
                             "(default: the campaign folder)")
    defaults = ", ".join(f"{k}={v}" for k, v in DEFAULT_EXPECTATIONS.items())
    parser.add_argument("--expect", action="append", default=[], metavar="BACKEND=EXPECTATION",
                        help="what a backend should show: consistent, lost-writes or anomalies "
                             "(analysis/gates.py); repeatable "
                             f"(defaults: {defaults}; a backend with none is not gated)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        expectations = parse_expectations(args.expect)
        campaign = load_campaign(args.campaign, args.check_json, args.recheck)
    except (CampaignError, ExpectationError) as error:
        print(f"python -m analysis report: {error}")
        return 2
    output = args.output or args.campaign
    plots = make_plots(campaign, output / PLOT_DIR, args.bucket)
    described = [{"name": p.name, "title": p.title, "caption": p.caption,
                  "png": str(p.png.relative_to(output)), "svg": str(p.svg.relative_to(output))}
                 for p in plots]
    summary = build_summary(campaign, expectations, described, comparison_time_scale(campaign))
    images = {p.name: p.png.read_bytes() for p in plots}
    report = output / "report.html"
    report.write_text(render_html(summary, images), encoding="utf-8")
    (output / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    (output / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s, summary.md and summary.json", report)
    for gate in summary["gates"]:
        print(f"{MARK[gate['passed']]} {gate['store']}: {gate['message']}")
    print(report)
    return 0 if summary["verdict"] == "pass" else 1
