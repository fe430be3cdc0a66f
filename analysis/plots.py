"""The comparison's figures, each a function from data to a matplotlib ``Figure``.

Figures are built with the explicit object API on a bare ``Figure`` (no pyplot, no global
state, never ``show()``), so they can be made in tests and in parallel and saved by the caller
wherever it likes. Colours are fixed per store so that ``kv`` is the same colour in every figure
of a report. Times are wall time as measured; where the comparison ran at a KV ``time_scale``
other than 1, a second axis gives model time (docs/baselines.md), and legend entries say whether a
store's storage latency is modelled (slept) or real.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from analysis.history import READS
from analysis.stats import CURVE_PERCENTILES, FaultWindow, Throughput, percentiles, supported
from analysis.stores import colour, store_name
from analysis.timeline import Bar, Timeline

SPARE_COLOURS = ("#1864ab", "#862e9c", "#5c940d", "#495057", "#0b7285")
OP_COLOURS = {"create": "#1971c2", "answer": "#9c36b5", "candidate": "#2f9e44",
              "poll": "#868e96", "list": "#f08c00", "leave": "#495057"}
KIND_WORDS = {"modelled": "modelled storage latency (slept)", "real": "real storage latency",
              "partly modelled": "real storage latency plus a modelled D1 round trip (slept)"}
MODELLED = frozenset({"modelled", "partly modelled"})
"""Latency kinds (``server.stores.Backend.latency``) for which model time means something."""
LAG_POINTS = ("p50", "p90", "p95", "p99", "max")
TAIL_TICKS = {2.0: "p50", 10.0: "p90", 100.0: "p99", 1000.0: "p99.9"}
SMALLEST_MS = 1e-3
PANELS_PER_ROW = 3
#: Operations labelled in a timeline even when they prove nothing: what the session is about.
LABELLED_CONTEXT = frozenset({"create", "answer"})
PROOF_COLOUR = "#e03131"
PROOF_TEXT = "#c92a2a"
FAULT_COLOUR = "#495057"
"""A fault window in a session's timeline: grey, hatched by kind."""
CULPRIT_COLOUR = "#7048e8"
"""The write that carried an erasure: violet and cross-hatched, apart from the red proof."""


def short_number(value: float) -> str:
    """A bar label: whole numbers from 10 up (2863, not 2.86e+03), three figures below."""
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"


def store_colours(stores: Sequence[str]) -> dict[str, str]:
    """A colour per store: the fixed one for the harness's own stores, spares for the rest."""
    spares = iter(SPARE_COLOURS * (1 + len(stores) // len(SPARE_COLOURS)))
    return {store: colour(store) or next(spares) for store in stores}


PLAIN = FuncFormatter(lambda value, _: f"{value:g}")
#: Minor ticks of a log axis labelled only at 2 and 5 times a power of ten, to stay legible.
SPARSE = FuncFormatter(lambda value, _: f"{value:g}" if f"{value:e}"[0] in "25" else "")


def _plain_log_y(axis) -> None:
    """Log-scale tick labels as plain numbers (5, 20, 100), not powers of ten."""
    axis.yaxis.set_major_formatter(PLAIN)
    axis.yaxis.set_minor_formatter(SPARSE)


def _model_axis(ax, time_scale: float, which: str, label: str, bins: int | None = None) -> None:
    """Add a second axis in model units when wall and model time differ (with at most about
    ``bins`` ticks, for a narrow panel)."""
    if time_scale == 1.0:
        return
    functions = (lambda wall: wall / time_scale, lambda model: model * time_scale)
    if which == "x":
        second = ax.secondary_xaxis("top", functions=functions)
        second.set_xlabel(label)
        if bins:
            second.xaxis.set_major_locator(MaxNLocator(nbins=bins))
    else:
        second = ax.secondary_yaxis("right", functions=functions)
        second.set_ylabel(label)
        if ax.get_yscale() == "log":
            _plain_log_y(second)


def latency_figure(samples: Mapping[str, Mapping[str, Sequence[float]]],
                   kinds: Mapping[str, str], *, title: str, ylabel: str,
                   time_scale: float = 1.0) -> Figure:
    """Percentile curves (p50 to p99.9) per operation type, one panel each, side by side.

    ``samples`` maps store -> operation -> latencies in ms; ``kinds`` maps store ->
    ``modelled``, ``partly modelled`` or ``real``. The x axis is 1 / (1 - q) on a log scale, so
    each "nine" of the tail gets as much room as the median; the y axis is logarithmic too.
    A curve stops at the highest percentile its samples support (``analysis.stats.supported``)
    and is labelled with their number (``n=``). The model-ms axis is drawn only when a store's
    latency is modelled, and names those stores: for the others, model time means nothing.
    """
    colours = store_colours(list(samples))
    ops = list(dict.fromkeys(op for by_op in samples.values() for op, v in by_op.items() if v))
    columns = min(max(len(ops), 1), PANELS_PER_ROW)
    rows = max(1, math.ceil(len(ops) / PANELS_PER_ROW))
    fig = Figure(figsize=(max(3.6 * columns, 6.0), 0.9 + 3.5 * rows), layout="constrained")
    grid = fig.subplots(rows, columns, sharey=True, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for unused in axes[max(len(ops), 1):]:
        unused.remove()
    handles = {}
    runs = {name: sum(1 for store in samples if store_name(store) == name)
            for name in dict.fromkeys(map(store_name, samples))}
    for ax, op in zip(axes, ops):
        for store, by_op in samples.items():
            values = by_op.get(op) or []
            points = [p for p in CURVE_PERCENTILES if supported(p, len(values))]
            if not values:
                continue
            xs = [100.0 / (100.0 - p) for p in points] or [100.0 / (100.0 - CURVE_PERCENTILES[0])]
            ys = ([max(y, SMALLEST_MS) for y in percentiles(values, points)] if points
                  else [max(values[0], SMALLEST_MS)])  # one sample: a point, not a curve
            name = store_name(store)  # one legend entry for every run of a store
            label = (f"{name}{f' ({runs[name]} runs)' if runs[name] > 1 else ''}: "
                     f"{KIND_WORDS.get(kinds.get(store, 'real'), 'real')}")
            (line,) = ax.plot(xs, ys, color=colours[store], label=label, linewidth=2,
                              marker="o" if len(xs) == 1 else None)
            ax.annotate(f"n={len(values):,}", (xs[-1], ys[-1]), xytext=(3, 0),
                        textcoords="offset points", color=colours[store], fontsize=7,
                        va="center")
            handles.setdefault(label, line)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_y(ax)
        ax.set_xticks(list(TAIL_TICKS), list(TAIL_TICKS.values()))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(op)
        ax.set_xlabel("percentile")
        ax.grid(True, which="major", alpha=0.3)
    if not ops:
        axes[0].text(0.5, 0.5, "no samples", ha="center", va="center",
                     transform=axes[0].transAxes)
    used = axes[:max(len(ops), 1)]
    modelled = list(dict.fromkeys(store_name(store) for store in samples
                                  if kinds.get(store) in MODELLED))
    for start in range(0, len(used), columns):
        used[start].set_ylabel(ylabel)
        if modelled:
            _model_axis(used[min(start + columns, len(used)) - 1], time_scale, "y",
                        f"model ms ({', '.join(modelled)} only)")
    fig.suptitle(title)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 2))  # the labels are long
    return fig


FAULT_HATCHES = {"kill": "xx", "pause": ".."}
FAULT_ALPHA = 0.14


def shade_faults(ax, windows: Sequence[FaultWindow], colour: str, label: str | None = None,
                 name: bool = True) -> None:
    """Shade each fault window on ``ax`` (as Jepsen's plots shade the nemesis's activity),
    hatched by kind and, with ``name``, named at the top of the axes."""
    for window in windows:
        ax.axvspan(window.start, max(window.end, window.start), color=colour, alpha=FAULT_ALPHA,
                   hatch=FAULT_HATCHES.get(window.kind), linewidth=0, label=label)
        label = None  # one legend entry per call
        if name:
            ax.annotate(window.kind, (window.start, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(2, -10), textcoords="offset points", fontsize=8, color=colour,
                        annotation_clip=True, in_layout=False)


def throughput_figure(series: Mapping[str, Throughput], time_scale: float = 1.0,
                      faults: Mapping[str, Sequence[FaultWindow]] | None = None) -> Figure:
    """Ok operations (a 409 to a second answer included: the protocol working) and errors
    (refused, or no response) per wall second, per store; ``faults`` (per store, in seconds on
    the same axis) are shaded in the store's colour."""
    colours = store_colours(list(series))
    fig = Figure(figsize=(10.0, 5.6), layout="constrained")
    ok_ax, err_ax = fig.subplots(2, 1, sharex=True)
    for store, windows in (faults or {}).items():
        kinds = ", ".join(dict.fromkeys(window.kind for window in windows))
        shade_faults(ok_ax, windows, colours[store], f"{store}: {kinds}" if kinds else None)
        shade_faults(err_ax, windows, colours[store], name=False)
    for store, data in series.items():
        edges = list(data.start_s) + [data.start_s[-1] + data.bucket_s] if data.start_s else []
        ok_ax.step(edges, list(data.ok) + data.ok[-1:], where="post", color=colours[store],
                   label=store, linewidth=2)
        err_ax.step(edges, list(data.errors) + data.errors[-1:], where="post",
                    color=colours[store], label=store, linewidth=2)
    ok_ax.set_ylabel("ok operations / s\n(409 to a 2nd answer incl.)")
    err_ax.set_ylabel("errors / s\n(refused or no response)")
    err_ax.set_xlabel("wall seconds since the run's first operation")
    _model_axis(ok_ax, time_scale, "x", "model seconds")
    for ax in (ok_ax, err_ax):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    ok_ax.legend(loc="upper right")
    fig.suptitle("Throughput and errors over time")
    return fig


def _grouped_bars(ax, groups: Sequence[str], values: Mapping[str, Sequence[float]],
                  colours: Mapping[str, str], fmt: Callable[[float], str],
                  names: Mapping[str, str] | None = None, label_zeros: bool = True) -> None:
    """One bar series per store across ``groups``, labelled with their values; ``names`` gives
    each store's legend entry (default: the store)."""
    width = 0.8 / max(len(values), 1)
    for index, (store, heights) in enumerate(values.items()):
        positions = [g + (index - (len(values) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(positions, heights, width, label=(names or {}).get(store, store),
                      color=colours[store])
        labels = [fmt(h) if h == h and (h or label_zeros) else "" for h in heights]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=7)
    ax.set_xticks(range(len(groups)), groups)


def anomalies_figure(counts: Mapping[str, Mapping[str, int]]) -> Figure:
    """Anomalies found per type (x) and store (one bar series each), zeros included."""
    colours = store_colours(list(counts))
    types = list(dict.fromkeys(kind for by_type in counts.values() for kind in by_type))
    fig = Figure(figsize=(max(1.1 * len(types), 6.0), 4.6), layout="constrained")
    ax = fig.subplots()
    _grouped_bars(ax, types, {store: [float(c.get(t, 0)) for t in types]
                              for store, c in counts.items()}, colours, "{:.0f}".format,
                  {store: f"{store}: {sum(c.values())} in all" for store, c in counts.items()},
                  label_zeros=False)
    ax.tick_params(axis="x", labelrotation=30)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("anomalies found")
    ax.set_xlabel("anomaly type")
    ax.set_ylim(bottom=0, top=max([1.0, *(max(c.values(), default=0) for c in counts.values())])
                * 1.15)
    fig.legend(loc="outside lower center", ncols=max(len(ax.containers), 1))
    ax.set_title("Anomalies per store and type")
    return fig


def lag_figure(lags: Mapping[str, Mapping[str, float | None]], time_scale: float = 1.0) -> Figure:
    """Visibility lag percentiles per store: how long a write took to show on the other side."""
    colours = store_colours(list(lags))
    fig = Figure(figsize=(8.0, 4.4), layout="constrained")
    ax = fig.subplots()
    heights = {store: [float("nan") if lag.get(p) is None else float(lag[p])
                       for p in LAG_POINTS] for store, lag in lags.items()}
    _grouped_bars(ax, list(LAG_POINTS), heights, colours, short_number)
    # A linear axis: a lag of 0 (visible at once) is what a consistent store should show, and
    # the bars' labels give the small values that a linear axis cannot.
    highest = max([h for values in heights.values() for h in values if h == h] + [1.0])
    ax.set_ylim(0, highest * 1.15)
    ax.set_ylabel("visibility lag, wall ms")
    ax.set_xlabel("percentile over writes")
    _model_axis(ax, time_scale, "y", "model ms")
    fig.legend(loc="outside lower center", ncols=max(len(ax.containers), 1))
    ax.set_title("Visibility lag: from a write being known to it showing in the other side's polls")
    return fig


def time_windows(bars: Sequence[Bar]) -> list[tuple[float, float]]:
    """The stretches of time to draw: the whole session, or the load and the final reads apart
    when the idle settle time between them would squeeze the load to a sliver."""
    start = min((bar.start_ms for bar in bars), default=0.0)
    end = max([bar.end_ms for bar in bars] + [start + 1.0])
    live = [bar.end_ms for bar in bars if not bar.final]
    final = [bar.start_ms for bar in bars if bar.final]
    if live and final and min(final) - max(live) > 0.3 * (end - start):
        return [(start, max(live)), (min(final), end)]
    return [(start, end)]


def _draw_session(ax, timeline: Timeline, shortest: float) -> None:
    """Every bar, label and acknowledgement line of ``timeline`` on ``ax`` (limits set later)."""
    rows = {lane: index for index, lane in enumerate(timeline.lanes)}
    for bar in timeline.bars:
        y = rows[bar.lane]
        colour = OP_COLOURS.get(bar.op, "#343a40")
        outline = CULPRIT_COLOUR if bar.culprit else PROOF_COLOUR if bar.proving else colour
        text = CULPRIT_COLOUR if bar.culprit else PROOF_TEXT
        ax.barh(y, max(bar.end_ms - bar.start_ms, shortest), left=bar.start_ms, height=0.6,
                color=colour, alpha=1.0 if bar.proving else 0.35, edgecolor=outline,
                linewidth=2.5 if bar.proving else 0.5,
                hatch="xx" if bar.culprit else "//" if bar.type != "ok" else None)
        if bar.proving or (bar.op in LABELLED_CONTEXT and not bar.lane.startswith("other ")):
            label = f"culprit: {bar.label}" if bar.culprit else bar.label
            ax.annotate(label, (bar.end_ms, y), xytext=(4, 9 if bar.proving else -11),
                        textcoords="offset points", fontsize=8, annotation_clip=True,
                        in_layout=False,
                        fontweight="bold" if bar.proving else "normal",
                        color=text if bar.proving else "#343a40")
        if bar.proving and bar.op not in READS and bar.type == "ok":
            ax.axvline(bar.end_ms, color=outline, linestyle="--", linewidth=1)
            ax.annotate(f"{bar.label} acknowledged", (bar.end_ms, -0.65), xytext=(3, 0),
                        textcoords="offset points", fontsize=7, color=text, va="center",
                        annotation_clip=True, in_layout=False)


def timeline_figure(timeline: Timeline) -> Figure:
    """A session's operations per client as bars in time, the proving ones outlined and named.

    Proving operations carry a label (the token written, or what a poll read), and so do the
    session's creates and answers; the culprit of an erased answer (the write that carried the
    erasure) is outlined in violet and cross-hatched instead, with a legend entry of its own.
    The moments proving writes were acknowledged are dashed lines, so "a read that began after
    the acknowledgement and did not show it" can be seen rather than taken on trust. When the final reads come long after the load (the settle
    time), they get a panel of their own on the right, so the load is not squeezed to a sliver.
    """
    windows = time_windows(timeline.bars)
    load = windows[0][1] - windows[0][0] or 1.0
    fig = Figure(figsize=(11.0, 2.1 + 0.55 * len(timeline.lanes)), layout="constrained")
    fig.get_layout_engine().set(rect=(0.0, 0.0, 0.97, 1.0))  # room for the last bar's label
    ratios = [4.0, 2.2][:len(windows)]
    axes = fig.subplots(1, len(windows), sharey=True, squeeze=False, width_ratios=ratios)[0]
    for ax, ratio, (start, end) in zip(axes, ratios, windows):
        _draw_session(ax, timeline, load * 0.004)
        width = load * 1.15 if ax is axes[0] else max((end - start) * 1.3, load * ratio / 4.0)
        ax.set_xlim(start - width * 0.04, start - width * 0.04 + width)
        ax.set_xlabel("wall ms since the session's first operation")
        shade_faults(ax, timeline.faults, FAULT_COLOUR)
        bins = None if ax is axes[0] else 3
        if bins:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=bins))
        _model_axis(ax, timeline.time_scale, "x", "model ms", bins)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(timeline.lanes)), timeline.lanes)
    axes[0].set_ylim(len(timeline.lanes) - 0.4, -0.8)
    if len(axes) > 1:
        axes[0].set_title("under load", loc="right", fontsize=9)
        axes[1].set_title("final reads, after settling", loc="left", fontsize=9)
        axes[1].set_xlabel("wall ms")
    present = list(dict.fromkeys(bar.op for bar in timeline.bars))
    legend = [Patch(color=OP_COLOURS.get(op, "#343a40"), alpha=0.6, label=op) for op in present]
    legend.append(Patch(facecolor="white", edgecolor=PROOF_COLOUR, linewidth=2.5,
                        label="proves the anomaly"))
    for kind in dict.fromkeys(window.kind for window in timeline.faults):
        legend.append(Patch(facecolor=FAULT_COLOUR, alpha=FAULT_ALPHA * 2,
                            hatch=FAULT_HATCHES.get(kind), label=f"{kind} (fault window)"))
    if any(bar.culprit for bar in timeline.bars):
        legend.append(Patch(facecolor="white", edgecolor=CULPRIT_COLOUR, linewidth=2.5,
                            hatch="xx", label="culprit: the write that carried the erasure"))
    fig.legend(handles=legend, loc="outside lower center", fontsize=8, ncols=len(legend))
    explanation = textwrap.fill(timeline.explanation, 130)
    fig.suptitle(f"{timeline.store}: {timeline.anomaly} in session {timeline.session}\n"
                 f"{explanation}", x=0.01, ha="left", fontsize=10)
    return fig
