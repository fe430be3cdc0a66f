"""``python -m analysis plot <campaign>``: draw the comparison's figures as PNG and SVG.

Writes into ``<campaign>/plots/`` (or ``--output``) and prints one line per file. The report
command calls :func:`make_plots` too, so the report embeds exactly these figures.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from analysis import plots, stats  # noqa: E402
from analysis.campaign import Campaign, CampaignError, Run, load_campaign  # noqa: E402
from analysis.check_cli import add_min_verified  # noqa: E402
from analysis.checker.result import ERASED, LOST_ACROSS_CRASH  # noqa: E402
from analysis.stores import latency_kind, store_name  # noqa: E402
from analysis.timeline import ERASURE_TIMELINE, session_timeline  # noqa: E402

log = logging.getLogger(__name__)

PLOT_DIR = "plots"
DPI = 110


@dataclass(frozen=True)
class PlotFile:
    """One saved figure and the words that go with it in the report."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", type=Path,
                        help="a comparison folder (one run folder per backend) or one run folder")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for the PNG and SVG files (default: <campaign>/plots)")
    add_common_arguments(parser)


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options the plot and report commands share."""
    parser.add_argument("--check-json", type=Path, default=None,
                        help="the checker's JSON to use (default: <campaign>/check.json if "
                             "present, else the checker is run now)")
    parser.add_argument("--recheck", action="store_true",
                        help="run the checker now even if check.json exists")
    add_min_verified(parser)
    parser.add_argument("--bucket", type=positive_seconds, default=None,
                        help="throughput bucket in wall seconds (default: about 50 buckets)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")


def comparison_time_scale(campaign: Campaign) -> float:
    """The comparison's one time scale (docs/baselines.md); runs that disagree are logged."""
    scales = {run.label: stats.time_scale(run.meta) for run in campaign.runs}
    distinct = set(scales.values())
    if len(distinct) > 1:
        log.warning("runs were made at different time scales (%s); model axes use the first",
                    ", ".join(f"{k}={v}" for k, v in scales.items()))
    return next(iter(scales.values()), 1.0)


def nice_bucket(span_s: float, buckets: int = 50) -> float:
    """A round bucket width (1, 2 or 5 times a power of ten) giving about ``buckets`` buckets."""
    if span_s <= 0:
        return 1.0
    raw = span_s / buckets
    power = 10.0 ** math.floor(math.log10(raw))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= raw)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


NamedFigure = tuple[str, str, str, Figure]
"""(file name stem, title, caption, figure)."""

FAIR_FIGURE = ("The fair price tag is the latency seen by clients, since every store got the "
               "same arrival rate of sessions: between the stores whose storage latency is "
               "real it compares what each costs a user; a modelled store's is the model's "
               "sleep, not a measurement (read it in model ms).")
"""What every latency caption says about which figure to compare stores by, so they agree."""
SAMPLES_WORDS = ("Each curve is labelled with its number of samples (n) and stops at the "
                 "highest percentile they support: p99 needs 100 samples, p99.9 a thousand.")

LATENCY_VIEWS = (
    ("client_ms", "latency-client", "Latency seen by clients",
     "Latency seen by clients (exact t1 - t0 of ok operations)",
     "Exact t1 - t0 of every ok operation under load, per operation type, p50 to p99.9 (both "
     "axes logarithmic). " + SAMPLES_WORDS + " " + FAIR_FIGURE),
    ("server_ms", "latency-server", "Server's own time per request",
     "Server's own time per request (Server-Timing)",
     "The server's own time per request from its Server-Timing header (stores that did not "
     "report it are absent): what a request costs inside the server, without the network and "
     "the wait before its handler runs, so less than a user waits. " + SAMPLES_WORDS + " "
     + FAIR_FIGURE),
)


def latency_figures(campaign: Campaign, scale: float) -> list[NamedFigure]:
    """Client-side and (where reported) server-side latency curves, labelled modelled or real."""
    lat = {run.label: stats.latencies(run.records) for run in campaign.runs}
    kinds = {run.label: latency_kind(run.backend) for run in campaign.runs}
    modelled = list(dict.fromkeys(store_name(label) for label, kind in kinds.items()
                                  if kind in plots.MODELLED))
    note = (f" Time scale {scale:g}: model time = wall time / {scale:g}; the right-hand axis "
            f"gives model ms, which means something only for {', '.join(modelled)} (storage "
            "latency modelled)." if scale != 1.0 and modelled else "")
    made = []
    for field, name, title, figure_title, caption in LATENCY_VIEWS:
        samples = {label: {op: getattr(v, field) for op, v in by_op.items()}
                   for label, by_op in lat.items()}
        if any(values for by_op in samples.values() for values in by_op.values()):
            made.append((name, title, caption + note,
                         plots.latency_figure(samples, kinds, title=figure_title,
                                              ylabel="wall ms", time_scale=scale)))
    return made


TIMELINE_CAPTION = ("Each row is one client; bars are operations from invocation to completion. "
                    "Outlined in red: the operations that prove the anomaly (dashed lines: when "
                    "its writes were acknowledged). Cross-hatched in violet, for an erased "
                    "answer: the write that carried the erasure. Hatched: failed or unknown "
                    "outcome. Shaded grey: a fault the nemesis injected (kill or pause). ")


def _timeline_figure(run: Run, example: Mapping[str, Any], name: str, what: str,
                     scale: float) -> NamedFigure:
    """The timeline of one example's session, titled ``<store>: <what>, session <code>``."""
    timeline = session_timeline(run.loaded, example, run.label, scale)
    return (name, f"{run.label}: {what}, session {timeline.session}",
            TIMELINE_CAPTION + timeline.explanation, plots.timeline_figure(timeline))


def timeline_figures(campaign: Campaign, scale: float) -> list[NamedFigure]:
    """A timeline of the first example of every anomaly type found, per store."""
    return [_timeline_figure(run, found["examples"][0], f"timeline-{slug(run.label)}-{slug(kind)}",
                             f"one {kind}", scale)
            for run in campaign.runs
            for kind, found in run.check.get("anomalies", {}).items() if found.get("examples")]


def crash_figures(campaign: Campaign, scale: float) -> list[NamedFigure]:
    """Per store, the timeline of the first write lost across a kill (the durability count's
    first example), its kill shaded."""
    return [_timeline_figure(run, examples[0], f"timeline-{slug(run.label)}-{LOST_ACROSS_CRASH}",
                             "a write acknowledged before a kill and lost across it", scale)
            for run in campaign.runs
            if (examples := (run.check.get("durability") or {}).get("examples"))]


def erasure_figures(campaign: Campaign, scale: float) -> list[NamedFigure]:
    """The timeline of the first erased answer whose culprit the checker named (the first
    store that has one), or nothing."""
    for run in campaign.runs:
        for example in run.check.get("anomalies", {}).get("lost-answer", {}).get("examples", []):
            if example.get("cause") == ERASED and example.get("culprit"):
                return [_timeline_figure(run, example, ERASURE_TIMELINE, "an acknowledged answer "
                                         "erased by a stale ICE candidate update", scale)]
    return []


def figures(campaign: Campaign, bucket_s: float | None = None) -> list[NamedFigure]:
    """Every figure of the comparison, in report order."""
    scale = comparison_time_scale(campaign)
    span = max((stats.span_s(run.records) for run in campaign.runs), default=0.0)
    bucket = bucket_s or nice_bucket(span)
    return [
        *latency_figures(campaign, scale),
        ("throughput", "Throughput and errors over time",
         f"Operations completed per wall second in {bucket:g} s buckets, by completion time; "
         "a 409 to a second, different answer is the protocol working and counts as ok; errors "
         "are refused (4xx, 5xx) or unanswered (timeout, connection error) operations. Shaded, "
         "in each store's colour: the faults the nemesis injected into its server (kill: "
         "cross-hatched, from the SIGKILL until the restarted server answered; pause: dotted, "
         "from SIGSTOP to SIGCONT).",
         plots.throughput_figure({run.label: stats.throughput(run.records, bucket)
                                  for run in campaign.runs}, scale,
                                 {run.label: stats.fault_windows(
                                     run.loaded.faults, stats.first_invocations(run.records))
                                  for run in campaign.runs if run.loaded.faults})),
        ("anomalies", "Anomalies per store and type",
         "Anomalies the checker proved, per type; every type the checker reported is shown, "
         "zeros included.",
         plots.anomalies_figure({run.label: {kind: int(a.get("count", 0)) for kind, a
                                             in run.check.get("anomalies", {}).items()}
                                 for run in campaign.runs})),
        ("visibility-lag", "Visibility lag",
         "How long after a write was known it became reliably visible in the other side's "
         "polls, as percentiles over writes.",
         plots.lag_figure({run.label: run.check.get("lag_ms", {}) for run in campaign.runs},
                          scale)),
        *timeline_figures(campaign, scale),
        *crash_figures(campaign, scale),
        *erasure_figures(campaign, scale),
    ]


def make_plots(campaign: Campaign, out_dir: Path, bucket_s: float | None = None) -> list[PlotFile]:
    """Draw every figure and save it as PNG and SVG in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, title, caption, figure in figures(campaign, bucket_s):
        png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
        figure.savefig(png, dpi=DPI)
        figure.savefig(svg)
        log.debug("wrote %s and %s", png, svg)
        saved.append(PlotFile(name, title, caption, png, svg))
    log.info("wrote %d figures (PNG and SVG) to %s", len(saved), out_dir)
    return saved


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        campaign = load_campaign(args.campaign, args.check_json, args.recheck,
                                 args.min_verified)
    except CampaignError as error:
        print(f"python -m analysis plot: {error}", file=sys.stderr)
        return 2
    for plot in make_plots(campaign, args.output or args.campaign / PLOT_DIR, args.bucket):
        print(plot.png)
        print(plot.svg)
    return 0
