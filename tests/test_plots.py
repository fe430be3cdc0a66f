"""The figures, drawn from the tiny comparison in tests/data/plots (see its generate.py).

Assertions are on the returned matplotlib Figures (axes, labels, lines, bars), checked against
what the histories and check.json hold, and on the files the plot command writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.colors
import pytest

from analysis import plots, stats
from analysis.__main__ import main
from analysis.campaign import Campaign, load_campaign
from analysis.checker import ANOMALY_TYPES
from analysis.history import Record
from analysis.plot_cli import figures, nice_bucket
from analysis.timeline import describe_op, session_timeline
from support import FIXTURE_TIMELINES, HISTORY_FILE, PLOTS_COMPARISON, loaded_run, record

CHECK = json.loads((PLOTS_COMPARISON / "check.json").read_text())


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign(PLOTS_COMPARISON)


def test_campaign_pairs_every_run_with_its_checker_entry(campaign: Campaign) -> None:
    assert [run.label for run in campaign.runs] == ["kv", "rmw", "sqlite"]
    # Each entry is the one the checker wrote for that folder: its run id, and as many
    # operations as the folder's history has lines (counted here from the files).
    assert [(run.check["run"], run.check["operations"]) for run in campaign.runs] == [
        ("plots-kv", 68), ("plots-rmw", 34), ("plots-sqlite", 29)]
    for run in campaign.runs:
        lines = [line for path in (run.path / "history").glob("*.jsonl")
                 for line in path.read_text().splitlines()]
        assert len(lines) == run.check["operations"] == len(run.records)


def test_percentiles_are_exact_not_bucketed() -> None:
    values = [float(v) for v in range(1, 1001)]
    p50, p99, p999 = stats.percentiles(values, [50, 99, 99.9])
    assert p50 == pytest.approx(500.5)
    assert p99 == pytest.approx(990.01)
    assert p999 == pytest.approx(999.001)
    assert stats.percentiles([], [50]) == [None]


def test_latencies_take_ok_operations_under_load_and_count_errors() -> None:
    records = [
        record(op="poll", type="ok", t0=0, t1=2_000_000, server_ms=0.5),
        record(op="poll", type="ok", t0=0, t1=4_000_000),
        record(op="poll", type="ok", t0=0, t1=9_000_000_000, final=True),
        record(op="answer", type="fail", t0=0, t1=1_000_000),
        record(op="answer", type="info", t0=0, t1=30_000_000_000),
    ]
    lat = stats.latencies(records)
    assert list(lat) == ["answer", "poll"]
    assert lat["poll"].client_ms == [2.0, 4.0]
    assert lat["poll"].server_ms == [0.5]
    assert (lat["answer"].ok, lat["answer"].fail, lat["answer"].info) == (0, 1, 1)
    assert lat["answer"].client_ms == []


def test_throughput_places_each_host_on_its_own_clock() -> None:
    second = stats.NS_PER_S
    records = [
        record(host="a", type="ok", t0=100 * second, t1=100 * second + 10),
        record(host="a", type="info", t0=101 * second, t1=101 * second + 10),
        record(host="b", type="ok", t0=7 * second, t1=7 * second + 10),
        record(host="b", type="ok", t0=8 * second, t1=8 * second + 10),
        # A 409 to a second answer is the protocol working: counted with the ok operations.
        record(host="b", op="answer", type="fail", status=409, t0=8 * second,
               t1=8 * second + 20),
    ]
    series = stats.throughput(records, bucket_s=1.0)
    assert series.start_s == [0.0, 1.0]
    assert series.ok == [2.0, 2.0]
    assert series.errors == [0.0, 1.0]
    assert stats.span_s(records) == pytest.approx(1.0, abs=1e-6)


def test_time_under_load_is_the_union_of_the_processes_spans() -> None:
    second = stats.NS_PER_S

    def op(pid: int, t0: float, t1: float, **extra: object) -> Record:
        return record(host="a", client=f"a/{pid}/u1/offerer", t0=int(t0 * second),
                      t1=int(t1 * second), **extra)

    sparse = [op(1, 0, 0.01), op(1, 1, 1.01), op(1, 2, 2.01)]  # one user, idle between polls
    assert stats.span_s(sparse) == pytest.approx(2.01)
    side_by_side = sparse + [op(2, 0.5, 2.5)]
    assert stats.span_s(side_by_side) == pytest.approx(2.5)
    two_runs = sparse + [op(3, 100, 101), op(3, 100, 103, final=True)]
    assert stats.span_s(two_runs) == pytest.approx(3.01)
    assert stats.span_s([]) == 0.0


def test_nice_bucket_is_round_and_gives_about_fifty_buckets() -> None:
    assert nice_bucket(60.0) == 2.0
    assert nice_bucket(1.65) == 0.05
    assert nice_bucket(0.0) == 1.0


def test_latency_figure_has_a_panel_per_operation_and_a_curve_per_store(
        campaign: Campaign) -> None:
    samples = {run.label: {op: v.client_ms for op, v in stats.latencies(run.records).items()}
               for run in campaign.runs}
    kinds = {"kv": "modelled", "rmw": "real", "sqlite": "real"}
    fig = plots.latency_figure(samples, kinds, title="t", ylabel="wall ms", time_scale=0.1)
    assert [ax.get_title() for ax in fig.axes] == ["create", "answer", "candidate", "poll"]
    assert fig.axes[0].get_ylabel() == "wall ms"
    for ax in fig.axes:
        assert ax.get_xlabel() == "percentile"
        assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
        assert len(ax.get_lines()) == 3
        assert [t.get_text() for t in ax.get_xticklabels()] == ["p50", "p90", "p99", "p99.9"]
        # Each curve is labelled with its samples and stops where they stop supporting it.
        for line, text in zip(ax.get_lines(), ax.texts, strict=True):
            n = int(text.get_text().removeprefix("n="))
            store, op = line.get_label().split(":")[0], ax.get_title()
            assert n == len(samples[store][op])
            drawn = [p for p in stats.CURVE_PERCENTILES if stats.supported(p, n)]
            assert len(line.get_xdata()) == max(len(drawn), 1)
            assert line.get_xdata()[-1] <= n  # the x axis is 1 / (1 - q): never past n
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "kv: modelled storage latency (slept)" in legend
    assert "sqlite: real storage latency" in legend
    model_axis = fig.axes[-1].child_axes[0]
    assert model_axis.get_ylabel() == "model ms (kv only)"
    only_real = plots.latency_figure({"sqlite": samples["sqlite"]}, {"sqlite": "real"}, title="t",
                                     ylabel="wall ms", time_scale=0.1)
    assert not any(ax.child_axes for ax in only_real.axes), "model ms means nothing for sqlite"


def test_no_percentile_is_drawn_that_the_samples_cannot_support() -> None:
    assert stats.supported(99.0, 100) and not stats.supported(99.0, 99)
    assert stats.supported(99.9, 1000) and not stats.supported(99.9, 999)
    assert stats.supported(50.0, 2) and not stats.supported(50.0, 1)
    fourteen = [float(v) for v in range(1, 15)]
    p50, p90, p99, p999 = stats.percentiles(fourteen, [50, 90, 99, 99.9])
    assert p50 == pytest.approx(7.5) and p90 == pytest.approx(12.7)
    assert p99 is None and p999 is None  # no p99.9 from 14 samples
    fig = plots.latency_figure({"kv": {"poll": fourteen, "answer": [3.0]}}, {"kv": "modelled"},
                               title="t", ylabel="wall ms")
    poll, answer = (next(ax for ax in fig.axes if ax.get_title() == op)
                    for op in ("poll", "answer"))
    (curve,) = poll.get_lines()
    assert curve.get_xdata()[-1] <= 14 and curve.get_ydata()[-1] < 14.0
    assert [t.get_text() for t in poll.texts] == ["n=14"]
    (point,) = answer.get_lines()  # one sample: one point at the median, no curve
    assert list(point.get_ydata()) == [3.0] and point.get_marker() == "o"


def test_latency_curve_reaches_the_slowest_sample() -> None:
    samples = {"sqlite": {"poll": [1.0] * 999 + [50.0]}}
    fig = plots.latency_figure(samples, {"sqlite": "real"}, title="t", ylabel="wall ms")
    ys = fig.axes[0].get_lines()[0].get_ydata()
    assert ys[0] == pytest.approx(1.0)
    assert ys[-1] == pytest.approx(stats.percentiles(samples["sqlite"]["poll"], [99.9])[0])
    assert ys[-1] > 1.0
    assert not fig.axes[0].child_axes, "no model axis at time scale 1"


def test_throughput_figure_plots_ok_and_errors_per_store(campaign: Campaign) -> None:
    series = {run.label: stats.throughput(run.records, 0.1) for run in campaign.runs}
    fig = plots.throughput_figure(series, time_scale=0.1)
    ok_ax, err_ax = fig.axes
    assert ok_ax.get_ylabel() == "ok operations / s\n(409 to a 2nd answer incl.)"
    assert err_ax.get_xlabel() == "wall seconds since the run's first operation"
    assert [line.get_label() for line in ok_ax.get_lines()] == ["kv", "rmw", "sqlite"]
    assert len(err_ax.get_lines()) == 3
    kv_errors = err_ax.get_lines()[0].get_ydata()
    # kv's two writes refused with a 500 (unknown outcome) and the poll answered 404 (failed)
    assert sum(kv_errors[:-1]) * 0.1 == pytest.approx(3.0)
    # sqlite's ok operations, and its second answer refused with 409: the protocol working.
    live_ok = sum(1 for r in campaign.runs[2].records if not r.final
                  and (r.type == "ok" or r.status == 409))
    assert sum(ok_ax.get_lines()[2].get_ydata()[:-1]) * 0.1 == pytest.approx(live_ok)
    assert sum(err_ax.get_lines()[2].get_ydata()) == 0


def _shaded(ax) -> list[tuple[float, float, str | None]]:
    """The fault windows shaded on ``ax``: (left, right, hatch) of each axvspan."""
    return [(patch.get_x(), patch.get_x() + patch.get_width(), patch.get_hatch())
            for patch in ax.patches if patch.get_alpha() == plots.FAULT_ALPHA]


def test_throughput_figure_shades_each_stores_fault_windows(campaign: Campaign) -> None:
    """The windows are placed on the same clock as the throughput: seconds since the host's
    first operation under load."""
    kv = campaign.runs[0]
    first = min(r.t0 for r in kv.records if not r.final)
    faults = [{"kind": "kill", "t0": first + 1_000_000_000, "t1": first + 1_500_000_000,
               "host": kv.records[0].host},
              {"kind": "pause", "t0": first + 2_000_000_000, "t1": first + 2_250_000_000,
               "host": kv.records[0].host},
              {"kind": "kill", "t0": 0, "t1": 1, "host": "a host with no operation"}]
    windows = stats.fault_windows(faults, stats.first_invocations(kv.records))
    assert windows == [stats.FaultWindow("kill", 1.0, 1.5), stats.FaultWindow("pause", 2.0, 2.25)]
    series = {run.label: stats.throughput(run.records, 0.1) for run in campaign.runs}
    fig = plots.throughput_figure(series, 0.1, {"kv": windows})
    ok_ax, err_ax = fig.axes[:2]
    assert _shaded(ok_ax) == _shaded(err_ax) == [(1.0, 1.5, "xx"), (2.0, 2.25, "..")]
    assert "kv: kill, pause" in [text.get_text() for text in ok_ax.get_legend().get_texts()]
    assert [text.get_text() for text in ok_ax.texts] == ["kill", "pause"]
    assert _shaded(plots.throughput_figure(series, 0.1).axes[0]) == []


def test_timeline_shades_the_runs_faults_on_the_sessions_clock() -> None:
    records = [{"op": "candidate", "session": "s", "client": "h/1/u/offerer", "side": "offerer",
                "t0": 1_000_000_000, "t1": 1_005_000_000, "host": "h", "type": "ok",
                "value": "c1"},
               {"op": "poll", "session": "s", "client": "h/1/v/answerer", "side": "answerer",
                "t0": 1_600_000_000, "t1": 1_601_000_000, "host": "h", "type": "ok",
                "read": {"offer": "o", "candidates": []}}]
    run = loaded_run(records)
    run.faults = [{"kind": "kill", "t0": 1_200_000_000, "t1": 1_500_000_000, "host": "h",
                   "file": "history/nemesis-h-9.jsonl", "line": 1}]
    cited = [{**r, "file": HISTORY_FILE, "line": n} for n, r in enumerate(records, 1)]
    timeline = session_timeline(run, {"type": "lost-across-crash", "session": "s",
                                      "ops": cited}, "kv")
    assert timeline.faults == [stats.FaultWindow("kill", 200.0, 500.0)]
    fig = plots.timeline_figure(timeline)
    assert _shaded(fig.axes[0]) == [(200.0, 500.0, "xx")]
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "kill (fault window)" in legend


def test_anomalies_figure_has_a_bar_per_store_and_type() -> None:
    counts = {run["backend"]: {k: a["count"] for k, a in run["anomalies"].items()}
              for run in CHECK["runs"]}
    fig = plots.anomalies_figure(counts)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(ANOMALY_TYPES)
    heights = {c.get_label(): [bar.get_height() for bar in c] for c in ax.containers}
    # In ANOMALY_TYPES order: rmw lost a candidate and an answer to a second, conflicting one;
    # kv shows one of every other type, and loses an answer too (generate.py's design).
    assert heights == {
        "kv: 9 in all": [0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1],
        "rmw: 3 in all": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        "sqlite: 0 in all": [0] * 11,
    }
    assert ax.get_ylabel() == "anomalies found"


def test_lag_figure_has_a_bar_per_store_and_percentile() -> None:
    fig = plots.lag_figure({run["backend"]: run["lag_ms"] for run in CHECK["runs"]}, 0.1)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(plots.LAG_POINTS)
    assert len(ax.containers) == 3 and all(len(c) == 5 for c in ax.containers)
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > 300, "linear, from 0, room for labels"
    kv = next(c for c in ax.containers if c.get_label() == "kv")
    # 15 writes: 13 never missed; ck2a missed by k2's poll at 700 ms, 236 ms after its ack at
    # 464 ms; ck3a missed by k3's poll at 1000 ms, 296.5 ms after a poll showed it (703.5 ms).
    assert [bar.get_height() for bar in kv] == [0.0, 236.0, 296.5, 296.5, 296.5]


def test_timeline_outlines_exactly_the_proving_operations(campaign: Campaign) -> None:
    rmw = campaign.runs[1]
    example = rmw.check["anomalies"]["lost-candidate"]["examples"][0]
    timeline = session_timeline(rmw.loaded, example, "rmw", 0.1)
    in_session = [r for r in rmw.records if r.session == example["session"]]
    assert len(timeline.bars) == len(in_session)
    # cr1a's acknowledged append (line 3) and the final read that lacks it (line 30)
    assert [(op["op"], op["line"]) for op in example["ops"]] == [("candidate", 3), ("poll", 30)]
    assert sum(bar.proving for bar in timeline.bars) == 2
    assert timeline.lanes == ["u1/offerer", "u2/answerer", "u1/ice0", "u1/ice1"]
    fig = plots.timeline_figure(timeline)
    load, final = fig.axes  # the final reads, 800 ms after the load, get their own panel
    assert load.get_xlim()[1] < 2000 < final.get_xlim()[0] + 100
    for ax in (load, final):
        assert len(ax.patches) == len(in_session)
        outlined = [p for p in ax.patches if p.get_linewidth() == 2.5]
        assert len(outlined) == 2
    assert [t.get_text() for t in load.get_yticklabels()] == timeline.lanes
    assert "lost-candidate in session r1" in fig.get_suptitle()
    labels = [t.get_text() for t in load.texts]
    assert "candidate cr1a" in labels and "candidate cr1a acknowledged" in labels
    assert "poll final offer=or1 [cr1b]" in [t.get_text() for t in final.texts]
    assert load.get_xlabel() == "wall ms since the session's first operation"


def test_timeline_draws_the_culprit_of_an_erased_answer_apart(campaign: Campaign) -> None:
    """kv's k1: answer ak1 (line 2) erased by the offerer's candidate ck1a (line 3), which the
    checker names as the culprit; the final read (line 53) proves the loss."""
    kv = campaign.runs[0]
    example = kv.check["anomalies"]["lost-answer"]["examples"][0]
    assert (example["cause"], example["culprit"]["line"]) == ("erased", 3)
    timeline = session_timeline(kv.loaded, example, "kv", 0.1)
    [culprit] = [bar for bar in timeline.bars if bar.culprit]
    assert (culprit.op, culprit.label, culprit.proving) == ("candidate", "candidate ck1a", True)
    fig = plots.timeline_figure(timeline)
    patches = [p for ax in fig.axes for p in ax.patches]
    violet = [p for p in patches if p.get_hatch() == "xx"]
    assert len(violet) == len(fig.axes)  # the culprit's bar, once per panel
    assert all(matplotlib.colors.to_hex(p.get_edgecolor()) == plots.CULPRIT_COLOUR
               for p in violet)
    red = [p for p in patches if p.get_linewidth() == 2.5 and p.get_hatch() != "xx"]
    assert len(red) == 2 * len(fig.axes)  # the answer and the final read prove the loss
    assert "culprit: candidate ck1a" in [t.get_text() for ax in fig.axes for t in ax.texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[-2:] == ["proves the anomaly", "culprit: the write that carried the erasure"]
    others = session_timeline(campaign.runs[1].loaded,
                              campaign.runs[1].check["anomalies"]["lost-answer"]["examples"][0],
                              "rmw", 0.1)  # an overwritten answer has no culprit
    assert not any(bar.culprit for bar in others.bars)
    assert "culprit" not in " ".join(
        t.get_text() for t in plots.timeline_figure(others).legends[0].get_texts())


def test_timeline_keeps_one_panel_without_a_long_settle() -> None:
    records = [{"op": "candidate", "session": "s", "client": "h/1/u/offerer", "side": "offerer",
                "t0": 0, "t1": 5_000_000, "host": "h", "type": "ok", "value": "c1"},
               {"op": "poll", "session": "s", "client": "h/1/v/answerer", "side": "answerer",
                "t0": 6_000_000, "t1": 7_000_000, "host": "h", "type": "ok", "final": True,
                "read": {"offer": "o", "candidates": []}}]
    cited = [{**r, "file": HISTORY_FILE, "line": n} for n, r in enumerate(records, 1)]
    timeline = session_timeline(loaded_run(records), {"type": "lost-candidate", "session": "s",
                                                      "ops": cited}, "kv")
    assert len(plots.timeline_figure(timeline).axes) == 1


def test_figure_labels_shorten_long_tokens_and_lists() -> None:
    read = {"offer": "6516700215880000026",
            "candidates": [f"65167002158800000{n}" for n in range(10, 16)]}
    label = describe_op(record(side="answerer", read=read, final=True), short=True)
    assert label == "poll final offer=\u2026000026 [\u2026000010,\u2026000011,\u2026000012," \
                    "\u2026000013,+2 more]"
    assert "6516700215880000026" in describe_op(record(side="answerer", read=read))


def test_timeline_draws_a_proving_operation_from_outside_the_session() -> None:
    record = {"op": "candidate", "session": "s", "client": "h/1/u/offerer", "side": "offerer",
              "t0": 10, "t1": 20, "host": "h", "type": "ok", "value": "c1"}
    elsewhere = {**record, "session": "other", "t0": 30, "t1": 40, "value": "c2",
                 "file": "history/other.jsonl", "line": 7}
    cited = {**record, "file": HISTORY_FILE, "line": 1}
    timeline = session_timeline(loaded_run([record]), {"type": "x", "session": "s",
                                                       "ops": [cited, elsewhere]}, "kv")
    assert [bar.label for bar in timeline.bars] == ["candidate c1", "candidate c2"]
    assert all(bar.proving for bar in timeline.bars)


def test_figures_include_one_timeline_per_store_and_type_found(campaign: Campaign) -> None:
    names = [name for name, *_ in figures(campaign)]
    assert names == ["latency-client", "latency-server", "throughput", "anomalies",
                     "visibility-lag", *FIXTURE_TIMELINES]


def test_plot_command_writes_png_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plot", str(PLOTS_COMPARISON), "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 2 * (5 + len(FIXTURE_TIMELINES))
    for name in printed:
        path = Path(name)
        assert path.parent == tmp_path and path.stat().st_size > 1000
    assert (tmp_path / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "anomalies.svg").read_text().lstrip().startswith("<?xml")


def test_plot_command_says_what_is_wrong_with_a_folder(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "meta.json" in capsys.readouterr().err


def test_plot_command_refuses_a_bucket_of_no_width(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["plot", str(PLOTS_COMPARISON), "--bucket", "0"])
    assert stopped.value.code == 2
    assert "'0' must be greater than 0" in capsys.readouterr().err
