"""``python -m analysis report`` on the tiny comparison in tests/data/plots: files, verdict, gates.

The gates are what make the harness trustworthy, so each way they can fail is exercised with a
changed copy of check.json: a consistent store with an anomaly, a baseline with none.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from analysis.__main__ import main
from analysis.campaign import load_campaign
from analysis.checker import ANOMALY_TYPES
from analysis.checker.evidence import Coverage, verdict
from analysis.gates import Evidence, Expectation, GateError, judge, with_defaults
from analysis.price import price_tag
from analysis.report import (
    build_summary,
    first_screen,
    short_verdict,
    verdict_words,
    verdicts_in_brief,
)
from analysis.report_render import render_markdown
from analysis.verdicts import (
    ANOMALIES_FOUND,
    CONSISTENT,
    EXPECT_ANOMALIES,
    EXPECT_CONSISTENT,
    EXPECT_LOST_WRITES,
    FAILED,
    INCONCLUSIVE,
    NOT_GATED,
    PASSED,
)
from support import FIXTURE_TIMELINES, PLOTS_COMPARISON, WrittenReport

CHECK = json.loads((PLOTS_COMPARISON / "check.json").read_text())
FIGURES = 5 + len(FIXTURE_TIMELINES)
"""Latency (client and server), throughput, anomalies, visibility lag, and the timelines."""


def report(tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, list[str]]:
    """Run the report command; the exit status, and what it printed (stdout, then stderr)."""
    status = main(["report", str(PLOTS_COMPARISON), "--output", str(tmp_path), *extra])
    printed = capsys.readouterr()
    return status, (printed.out + printed.err).strip().splitlines()


@pytest.fixture
def written(plots_report: WrittenReport) -> WrittenReport:
    """The report of the unchanged comparison (conftest's, written once per session)."""
    return plots_report


def changed_check(tmp_path: Path, backend: str, counts: dict[str, int]) -> Path:
    """A copy of check.json in which ``backend`` has ``counts[kind]`` anomalies of each kind,
    and the verdict and reason the checker gives such a run."""
    check = json.loads((PLOTS_COMPARISON / "check.json").read_text())
    for run in check["runs"]:
        if run["backend"] != backend:
            continue
        found_counts = {k: a["count"] for k, a in run["anomalies"].items()}
        found_counts.update(counts)
        run["verdict"], run["reason"] = verdict(found_counts, Coverage(**run["coverage"]),
                                                run["operations"], run["min_verified"])
        for kind, count in counts.items():
            found = run["anomalies"][kind]
            found["count"], found["sessions"] = count, min(count, 1)
            if not count:
                found["examples"] = []
            elif not found["examples"]:
                found["examples"] = [{"type": kind, "session": "s1", "ops": [],
                                      "explanation": "poll at <b>300 ms</b> & later missed it"}]
    path = tmp_path / "changed-check.json"
    path.write_text(json.dumps(check))
    return path


def test_report_writes_three_files_and_ends_with_its_exit_status(written: WrittenReport) -> None:
    tmp_path, status, lines = written
    assert status == 0
    assert lines[-2] == f"report: {tmp_path / 'report.html'}"
    assert lines[-1] == ("exit 0: the harness's gates held (kv lost 2 writes, rmw lost 2 "
                         "writes, sqlite consistent)")
    assert lines[:3] == [
        "\u2714 kv: known to lose writes, and caught losing 2 writes",
        "\u2714 rmw: known to lose writes, and caught losing 2 writes",
        "\u2714 sqlite: expected consistent, and found consistent: no anomaly in 29 operations; "
        "2 of 2 sessions with an acknowledged write verified after settling"]
    for name in ("report.html", "summary.md", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert len(list((tmp_path / "plots").glob("*.png"))) == FIGURES
    assert len(list((tmp_path / "plots").glob("*.svg"))) == FIGURES


def test_summary_json_carries_the_checkers_findings_and_history_figures(
        written: WrittenReport) -> None:
    tmp_path = written[0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == PASSED
    assert summary["time_scale"] == 0.1
    stores = {s["store"]: s for s in summary["stores"]}
    # What generate.py put in each history, counted by hand: operations (lines), anomalies
    # found, lost writes (the lost-* types: kv's answer of k1 and its session k7; rmw's cr1a
    # and its overwritten answer ar3), and writes whose visibility lag was measured.
    assert {name: (s["operations"], s["anomaly_total"], s["lost_writes"], s["lag_ms"]["count"])
            for name, s in stores.items()} == {
        "kv": (68, 9, 2, 15), "rmw": (34, 3, 2, 5), "sqlite": (29, 0, 0, 6)}
    assert all(list(s["anomalies"]) == list(ANOMALY_TYPES) for s in stores.values())
    assert stores["kv"]["lag_ms"] == {"count": 15, "p50": 0.0, "p90": 236.0, "p95": 296.5,
                                      "p99": 296.5, "max": 296.5}
    assert stores["kv"]["latency"] == "modelled" and stores["sqlite"]["latency"] == "real"
    assert stores["rmw"]["latency"] == "partly modelled"
    # k1's answer erased by the offerer's candidate; rmw's ar3 overwritten, not erased.
    assert summary["erasures"] == [{"store": "kv", "count": 1}, {"store": "rmw", "count": 0},
                                   {"store": "sqlite", "count": 0}]
    assert summary["erasure_plot"]["name"] == "erased-answer"
    assert summary["erasure_plot"]["title"].startswith("kv: an acknowledged answer erased")
    # every kv answer: 50 -> 59 ms after its session's start; exact, from the history.
    assert stores["kv"]["ops"]["answer"]["client_ms"]["p50"] == pytest.approx(9.0)
    assert stores["kv"]["ops"]["candidate"]["info"] == 2  # the two refused with a 500
    assert stores["kv"]["ops"]["poll"]["fail"] == 1  # k7's 404
    # sqlite's second answer was refused with 409: the protocol working, not a failure.
    assert stores["sqlite"]["ops"]["answer"]["protocol"] == 1
    assert stores["sqlite"]["ops"]["answer"]["fail"] == 0
    assert stores["sqlite"]["availability"]["protocol_refusals"] == 1
    assert stores["kv"]["availability"]["refused_writes"] == [
        {"reason": "KV PUT failed: 429 Too Many Requests (HTTP 500)", "count": 2}]
    assert stores["kv"]["locust_failures"] == [
        {"method": "POST", "name": "candidate", "occurrences": 2,
         "error": "500: KV PUT failed: 429 Too Many Requests"}]
    assert [link["label"] for link in stores["kv"]["links"]] == ["history", "check.json"]
    assert [p["name"] for p in summary["plots"]] == [
        "latency-client", "latency-server", "throughput", "anomalies", "visibility-lag",
        *FIXTURE_TIMELINES]
    assert all((tmp_path / p["png"]).is_file() for p in summary["plots"])
    example = stores["rmw"]["examples"][0]
    assert [op["where"] for op in example["ops"]] == [
        "history/h1-boot1-100.jsonl:3", "history/h1-boot1-100.jsonl:30"]
    erased = next(e for e in stores["kv"]["examples"] if e["type"] == "lost-answer")
    assert [(op["where"], op["what"]) for op in erased["ops"]] == [
        ("history/h1-boot1-100.jsonl:2", "answer ak1"),
        ("history/h1-boot1-100.jsonl:53", "poll final answer=null []"),
        ("history/h1-boot1-100.jsonl:3", "culprit: candidate ck1a")]


def test_markdown_states_each_verdict_then_the_first_screen_then_the_gates(
        written: WrittenReport) -> None:
    tmp_path = written[0]
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# Signaling consistency report: kv lost 2 writes; rmw lost 2 writes; "
                           "sqlite consistent\n")
    assert ("- \u2718 rmw LOST 2 acknowledged writes (3 anomalies proven: 1 conflicting-answers, "
            "1 lost-answer, 1 lost-candidate)") in text
    assert ("- \u2714 sqlite lost no acknowledged write (no anomaly in 29 operations; 2 of 2 "
            "sessions with an acknowledged write verified after settling)") in text
    assert "| acknowledged writes lost | \u2718 2 | \u2718 2 | \u2714 none |" in text
    assert ("| writes refused by the store, by reason | \u2718 2: 2\u00d7 KV PUT failed: 429 Too "
            "Many Requests (HTTP 500) | none | none |") in text
    assert "| second answers refused with 409 (the protocol working, not an error) | 0 | 0 | 1 |" \
        in text
    # Whether the harness's own gates held comes after what the stores did, on its own line.
    assert text.index("acknowledged writes lost") < text.index("**Harness gates: held (3 of 3)**")
    assert "Time scale 0.1: one wall second stands for 10 model seconds" in text
    erasures = ("Answers erased by stale ICE candidate updates: 1 (kv), 0 (rmw), 0 (sqlite).\n\n"
                "![kv: an acknowledged answer erased by a stale ICE candidate update, session k1]"
                "(plots/erased-answer.png)\n")
    assert erasures in text and text.index(erasures) < text.index("Time scale 0.1")
    assert "| lost-answer | 1 (1) | 1 (1) | 0 (0) |" in text  # types x (kv, rmw, sqlite)
    assert "| duplicate | 1 (1) | 0 (0) | 0 (0) |" in text
    rows = [line for line in text.splitlines() if line.split(" | ")[0][2:] in ANOMALY_TYPES]
    assert len(rows) == len(ANOMALY_TYPES), "one row per type, zeros included"
    assert "| kv | 15 | 0 (0) | 236 (2,360) | 296 (2,965) |" in text
    assert text.index("## kv") < text.index("## rmw") < text.index("## sqlite")


def test_html_is_self_contained_with_every_plot_embedded(written: WrittenReport) -> None:
    tmp_path = written[0]
    page = (tmp_path / "report.html").read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert len(images) == FIGURES and all(len(data) > 1000 for data in images)
    assert not re.search(r'(src|href)="(https?:|//|/)', page), "nothing loaded from elsewhere"
    verdict = page.index('id="verdict"')
    assert verdict < page.index('id="tables"') < page.index('id="plots"') \
        < page.index('id="explanations"') < page.index('id="settings"')
    first_screen = page[verdict:page.index("</section>", verdict)]
    assert '<li class="bad"><span class="mark">\u2718</span> kv LOST 2 acknowledged writes' \
        in first_screen
    assert "PASS" not in page and "Harness gates: held (3 of 3)" in first_screen
    assert "Locust&#x27;s failures, grouped by message" in page
    assert ("<strong>Answers erased by stale ICE candidate updates: 1 (kv), 0 (rmw), "
            "0 (sqlite).</strong>") in first_screen
    assert first_screen.count("<img ") == 1 and 'id="plot-erased-answer"' in first_screen
    assert page.count('id="plot-erased-answer"') == 1  # not repeated among the plots
    assert "cache_ttl" in page and "plots-kv" in page  # every store's meta.json


def test_each_store_links_its_files_relative_so_a_copied_folder_still_works(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    campaign = Path(shutil.copytree(PLOTS_COMPARISON, tmp_path / "made"))
    for store in ("kv", "rmw", "sqlite"):
        (campaign / store / "server.log").write_text("the server's log\n")
        (campaign / store / "locust" / "report.html").write_text("<p>Locust</p>\n")
    assert main(["report", str(campaign)]) == 0
    capsys.readouterr()
    copy = Path(shutil.copytree(campaign, tmp_path / "copied" / "elsewhere"))
    shutil.rmtree(campaign)
    page = (copy / "report.html").read_text()
    hrefs = re.findall(r'<a href="([^"#][^"]*)">', page)
    assert {h for h in hrefs if h.startswith("kv/")} == {
        "kv/locust/report.html", "kv/server.log", "kv/history/"}
    assert "check.json" in hrefs and len(hrefs) == 3 * 3 + 3
    assert all((copy / href).exists() for href in hrefs), hrefs
    assert "[Locust's report](kv/locust/report.html)" in (copy / "summary.md").read_text()


def test_a_consistent_store_with_an_anomaly_fails_the_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    check = changed_check(tmp_path, "sqlite", {"stale-read": 2})
    status, lines = report(tmp_path, capsys, "--check-json", str(check))
    assert status == 1
    assert "\u2718 sqlite: expected consistent, but 2 anomalies found" in "\n".join(lines)
    assert json.loads((tmp_path / "summary.json").read_text())["verdict"] == FAILED
    assert lines[-1].startswith("exit 1: 1 of 3 harness gates FAILED (sqlite: expected "
                                "consistent, but 2 anomalies found")
    page = (tmp_path / "report.html").read_text()
    assert "Harness gates: FAILED (1 of 3 did not hold)" in page
    assert "sqlite LOST" not in page and "sqlite lost no acknowledged write it could check, but " \
        "misbehaved (2 anomalies proven: 2 stale-read)" in page
    assert "poll at &lt;b&gt;300 ms&lt;/b&gt; &amp; later" in page, "explanations are escaped"
    assert (tmp_path / "plots" / "timeline-sqlite-stale-read.png").is_file()


def summary_with(tmp_path: Path, check: Path | None = None,
                 *expect: str) -> dict[str, object]:
    """The report's data without drawing or writing anything (the gates are all in it)."""
    campaign = load_campaign(PLOTS_COMPARISON, check)
    explicit = [Expectation.parse(text) for text in expect]
    return build_summary(campaign, with_defaults(explicit, [run.check for run in campaign.runs]))


def test_a_baseline_with_no_anomaly_means_the_harness_lost_its_teeth(tmp_path: Path) -> None:
    nothing = {"lost-candidate": 0, "lost-answer": 0, "conflicting-answers": 0}  # rmw's three
    summary = summary_with(tmp_path, changed_check(tmp_path, "rmw", nothing))
    assert summary["verdict"] == FAILED
    gate = next(g for g in summary["gates"] if g["store"] == "rmw")
    assert gate["passed"] is False and "lost its teeth" in gate["message"]
    assert "\u2714 rmw lost no acknowledged write (no anomaly" in render_markdown(summary)
    assert "\u2718 rmw: known to lose writes, but no lost write" in render_markdown(summary)


def test_expectations_can_be_overridden(tmp_path: Path) -> None:
    summary = summary_with(tmp_path, None, "kv=consistent")
    assert summary["verdict"] == FAILED
    assert [g["passed"] for g in summary["gates"]] == [False, True, True]
    assert summary["gates"][0]["message"].startswith("expected consistent, but 9 anomalies")


def test_an_expectation_can_name_a_run_folder_or_id(tmp_path: Path) -> None:
    check = changed_check(tmp_path, "sqlite", {"stale-read": 1})
    assert summary_with(tmp_path, check)["verdict"] == FAILED
    assert summary_with(tmp_path, check, "sqlite=anomalies")["verdict"] == PASSED
    assert summary_with(tmp_path, check, "plots-sqlite=anomalies")["verdict"] == PASSED


def test_a_bad_expectation_is_refused_with_how_to_write_it(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status, lines = report(tmp_path, capsys, "--expect", "kv=broken")
    assert status == 2
    assert "say consistent, anomalies, lost-writes" in lines[-1]
    with pytest.raises(GateError):
        Expectation.parse("=consistent")
    assert Expectation.parse("ext=consistent") == Expectation("ext", EXPECT_CONSISTENT)
    entries = [{"backend": "kv"}, {"backend": "ext"}, {"backend": "sqlite"}]
    assert with_defaults([], entries) == [Expectation("kv", EXPECT_LOST_WRITES),
                                          Expectation("sqlite", EXPECT_CONSISTENT)]
    explicit = [Expectation("kv", EXPECT_CONSISTENT)]
    assert with_defaults(explicit, entries) == [*explicit, Expectation("sqlite",
                                                                       EXPECT_CONSISTENT)]


def test_an_expectation_for_a_missing_store_cannot_pass(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    status, lines = report(tmp_path, capsys, "--expect", "postgres=consistent")
    assert status == 2
    assert "--expect postgres=consistent: no run has that backend" in lines[-1]


def test_no_gate_is_never_a_pass(tmp_path: Path) -> None:
    campaign = load_campaign(PLOTS_COMPARISON)
    summary = build_summary(campaign, [])
    assert summary["verdict"] == NOT_GATED and summary["gates"] == []
    assert [s["gate"]["passed"] for s in summary["stores"]] == [None, None, None]


def evidence(**anomalies: int) -> Evidence:
    counts = {kind.replace("_", "-"): n for kind, n in anomalies.items()}
    return Evidence(operations=10, verdict=ANOMALIES_FOUND if any(counts.values()) else CONSISTENT,
                    reason="from the checker", anomalies=counts)


def test_a_store_without_expectation_is_reported_not_gated() -> None:
    assert judge(None, evidence(stale_read=3)).passed is None
    assert evidence(stale_read=3).verdict == ANOMALIES_FOUND
    assert judge(EXPECT_ANOMALIES, evidence()).passed is False
    assert judge(EXPECT_ANOMALIES, evidence(stale_read=2)).passed is True
    assert judge(EXPECT_CONSISTENT, evidence()).passed is True


def test_lost_writes_gate_needs_a_lost_write_not_just_any_anomaly() -> None:
    stale_only = judge(EXPECT_LOST_WRITES, evidence(stale_read=9, monotonic_writes=2))
    assert stale_only.passed is False and "no lost write was found" in stale_only.message
    caught = judge(EXPECT_LOST_WRITES, evidence(lost_candidate=2, lost_answer=1))
    assert caught.passed is True and "caught losing 3 writes" in caught.message


def test_gates_fail_on_an_inconclusive_run_with_the_checkers_reason() -> None:
    reason = "4 of 10 sessions could be verified (at least 50% needed): 6 were left"
    thin = Evidence(operations=279, verdict=INCONCLUSIVE, reason=reason)
    for expected in (EXPECT_CONSISTENT, EXPECT_LOST_WRITES, EXPECT_ANOMALIES):
        judged = judge(expected, thin)
        assert judged.passed is False and judged.message.endswith(
            f"but the run is inconclusive: {reason}")
    errors = Evidence(operations=279, verdict=CONSISTENT, reason="no anomaly", server_errors=3)
    assert "answered 5xx 3 times" in judge(EXPECT_CONSISTENT, errors).message


def test_without_check_json_the_checker_runs_and_agrees_with_the_checked_in_one(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status, lines = report(tmp_path, capsys, "--recheck")
    assert status == 0, lines
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["check_source"] == "the checker, run now"
    found = {s["store"]: {k: a["count"] for k, a in s["anomalies"].items() if a["count"]}
             for s in summary["stores"]}
    expected = {run["backend"]: {k: a["count"] for k, a in run["anomalies"].items() if a["count"]}
                for run in CHECK["runs"]}
    assert found == expected


def essentials(entry: dict) -> dict:
    """What a checker entry finds, without its wording: counts, the records proving each
    example (file and line), lag, 5xx responses, verdict."""
    return {
        "fields": [entry[key] for key in ("run", "backend", "operations", "sessions",
                                          "unverifiable", "server_errors", "verdict", "lag_ms")],
        "anomalies": {kind: (a["count"], a["sessions"],
                             [[(op["file"], op["line"]) for op in example["ops"]]
                              for example in a["examples"]])
                      for kind, a in entry["anomalies"].items()},
    }


def test_the_checked_in_check_json_is_what_the_checker_finds_now() -> None:
    """check.json is the checker's output when generate.py ran; this holds it true since (an
    explanation may be reworded, but what is found and which records prove it may not)."""
    fresh = load_campaign(PLOTS_COMPARISON, recheck=True)
    assert {run.label: essentials(run.check) for run in fresh.runs} == {
        entry["backend"]: essentials(entry) for entry in CHECK["runs"]}
    # and the fixture holds what it is for: every type somewhere, and 5xx responses in kv
    assert {kind for entry in CHECK["runs"] for kind, a in entry["anomalies"].items()
            if a["count"]} == set(ANOMALY_TYPES)
    assert {entry["backend"]: entry["server_errors"] for entry in CHECK["runs"]} == {
        "kv": 2, "rmw": 0, "sqlite": 0}


def test_the_price_tag_is_the_median_of_each_runs_percentile_with_its_spread(
        written: WrittenReport) -> None:
    summary = json.loads((written[0] / "summary.json").read_text())
    stores = {s["store"]: s for s in summary["stores"]}
    tags = {tag["backend"]: tag for tag in summary["price"]}
    assert list(tags) == ["kv", "rmw", "sqlite"] and tags["kv"]["runs"] == ["kv"]
    # One run: the median is the run's own figure; too few samples leave p99 out.
    kv_answer = tags["kv"]["ops"]["answer"]["client_ms"]
    assert kv_answer["p50"] == {"median": pytest.approx(9.0), "min": pytest.approx(9.0),
                                "max": pytest.approx(9.0), "runs": 1}
    assert kv_answer["p99"] is None and stores["kv"]["ops"]["answer"]["client_ms"]["p99"] is None
    # Three runs of one store: the median of the runs' figures, and the lowest and highest.
    runs = [{**stores["sqlite"], "store": f"sqlite ({n})",
             "ops": {"poll": {"client_ms": {"p50": p50, "p95": None, "p99": None},
                              "server_ms": None}}} for n, p50 in enumerate((3.0, 1.0, 2.0))]
    [tag] = price_tag(runs)
    assert tag["runs"] == ["sqlite (0)", "sqlite (1)", "sqlite (2)"]
    assert tag["ops"]["poll"]["client_ms"]["p50"] == {"median": 2.0, "min": 1.0, "max": 3.0,
                                                     "runs": 3}
    assert tag["ops"]["poll"]["client_ms"]["p95"] is None
    assert "| sqlite | real | 1 | " in (written[0] / "summary.md").read_text()


def test_runs_of_one_store_share_its_column_and_the_worst_run_sets_its_tone() -> None:
    """Three runs of kv, one of which lost writes, and one of sqlite: two columns; kv's cell
    gives each run's count and is red, sqlite's says its one value once."""
    summary = build_summary(load_campaign(PLOTS_COMPARISON), [])
    kv = next(s for s in summary["stores"] if s["backend"] == "kv")
    sqlite = next(s for s in summary["stores"] if s["backend"] == "sqlite")
    clean = {**kv, "store": "kv (kv-2)", "lost_writes": 0, "verdict": "consistent",
             "anomalies": {}, "durability": {**kv["durability"], "lost_across": 0}}
    runs = [{**kv, "store": "kv (kv-1)"}, clean, {**clean, "store": "kv (kv-3)"}, sqlite]
    screen = first_screen(runs, 1.0)
    assert screen["stores"] == ["kv (3 runs)", "sqlite"]
    lost = next(row for row in screen["rows"] if row["label"] == "acknowledged writes lost")
    # The fixture's kv run lost 2 writes (its gate says "caught losing 2 writes").
    assert lost["cells"] == [{"text": "2 \u00b7 none \u00b7 none", "tone": "bad"},
                             {"text": "none", "tone": "good"}]
    assert verdicts_in_brief(runs) == (
        "kv (3 runs): lost 2 writes / consistent / consistent; sqlite consistent")


@pytest.mark.parametrize(("lost", "crashed", "short", "words"), [
    (96, 165, "lost 165 writes across 2 kills", "kv LOST 165 acknowledged writes across a crash"),
    (244, 12, "lost 244 writes (12 missing after a kill)",
     "kv LOST 244 acknowledged writes, 12 of them missing after a kill"),
    (244, 0, "lost 244 writes", "kv LOST 244 acknowledged writes ("),
])
def test_a_store_that_lost_writes_under_kills_leads_with_the_larger_count(
        lost: int, crashed: int, short: str, words: str) -> None:
    """Races erase writes between a restart and the next read too, which the durability count
    cannot tell from a crash's loss: the verdict names the larger count first."""
    store = {"store": "kv", "verdict": "anomalies found", "lost_writes": lost, "reason": "r",
             "anomaly_total": lost, "durability": {"lost_across": crashed, "kills": 2}}
    assert short_verdict(store) == short
    text, tone = verdict_words(store)
    assert text.startswith(words) and tone == "bad"
