"""Render the report's data (``analysis.report.build_summary``) as Markdown and as one HTML page.

The verdict sentences and the tables are built once, as data, and then written out in either
format, so ``summary.md`` (for a CI job summary) and ``report.html`` say the same thing. The HTML
page is self-contained: styles inline, figures embedded as base64 PNG data URIs, no script or
font from anywhere else, so it can be mailed or opened from disk. Its one inline script checks
that the verdict is present and every figure decoded, and records the result in the
``data-report-check`` attribute of ``<html>`` for the browser test to read.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.gates import plural
from analysis.verdicts import NOT_GATED, PASSED

TITLE = "Signaling consistency report"
MARK = {True: "\u2714", False: "\u2718", None: "\u2022"}
SCALED_OPS = ("client_ms", "server_ms")
LOST_WORDS = ("Lost writes are the anomalies of the lost-* types: acknowledged writes that are "
              "gone for good once the store has settled. The other types are writes seen late, "
              "out of order or inconsistently; every type is explained below.")


@dataclass(frozen=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


def number(value: float | None) -> str:
    """A measurement to three significant figures or so, without exponent notation."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def wall_model(value: float | None, scale: float) -> str:
    """A wall time, followed by the model time in brackets when the scale is not 1."""
    if value is None or scale == 1.0:
        return number(value)
    return f"{number(value)} ({number(value / scale)})"


def unit(name: str, scale: float) -> str:
    return f"{name} wall (model)" if scale != 1.0 else name


def headline(summary: Mapping[str, Any]) -> str:
    failed = [g for g in summary["gates"] if g["passed"] is False]
    if summary["verdict"] == NOT_GATED:
        return "NOT GATED: no store had an expectation; read each store's verdict below"
    if not failed:
        return "PASS: every store behaved as expected"
    return f"FAIL: {len(failed)} of the expectations did not hold"


def store_sentence(store: Mapping[str, Any]) -> str:
    """What the checker found in one store, in plain words."""
    name, total = store["store"], store["anomaly_total"]
    operations = plural(store["operations"], "operation")
    if not total:
        return (f"{name} is consistent: no anomaly in {operations} "
                f"over {plural(store['sessions'] or 0, 'session')}.")
    parts = ", ".join(f"{a['count']} {kind}" for kind, a in store["anomalies"].items()
                      if a["count"])
    lost = store["lost_writes"]
    lost_words = f"{plural(lost, 'write')} lost outright" if lost else "no write lost outright"
    return (f"{name} is NOT consistent: {plural(total, 'anomaly', 'anomalies')} in {operations} "
            f"({parts}); {lost_words}.")


def erasure_sentence(summary: Mapping[str, Any]) -> str:
    """The seed's failure per store, in its own terms (``analysis.report.answers_erased``)."""
    counts = ", ".join(f"{e['count']} ({e['store']})" for e in summary["erasures"])
    return f"Answers erased by stale ICE candidate updates: {counts}."


def scale_sentence(scale: float) -> str:
    if scale == 1.0:
        return "Time scale 1: wall time and model time are the same; times are in ms."
    return (f"Time scale {scale:g}: one wall second stands for {1 / scale:g} model seconds "
            "(the KV model's and the load tests' timings were all scaled alike, docs/baselines.md). "
            "Times are wall ms, with model ms in brackets.")


def overview_table(summary: Mapping[str, Any]) -> Table:
    scale = summary["time_scale"]
    rows = [[s["store"], s["verdict"], s["gate"]["expect"] or "(not gated)",
             MARK[s["gate"]["passed"]], str(s["operations"]), str(s["anomaly_total"]),
             str(s["lost_writes"]), wall_model(s["lag_ms"].get("p99"), scale)]
            for s in summary["stores"]]
    return Table("Overview", ["store", "verdict", "expected", "as expected", "operations",
                              "anomalies", "lost writes", "lag p99, " + unit("ms", scale)], rows)


LAG_POINTS = ("p50", "p90", "p95", "p99", "max")


def store_tables(store: Mapping[str, Any], scale: float) -> list[Table]:
    """The tables of one store: the run at a glance (with its anomalies by type and visibility
    lag) and the latency of each operation type."""
    duration = store["duration_s"]
    throughput = store["throughput_ops_s"]
    errors = sum(op["fail"] + op["info"] for op in store["ops"].values())
    found = ", ".join(f"{a['count']} {kind} ({plural(a['sessions'], 'session')})"
                      for kind, a in store["anomalies"].items() if a["count"]) or "none"
    lag = store["lag_ms"]
    run = Table("Run", ["what", "value"], [
        ["operations checked", str(store["operations"])],
        ["sessions checked", str(store["sessions"])],
        ["unverifiable sessions", str(store["unverifiable"])],
        [unit("time under load, s", scale), wall_model(duration, scale)],
        ["throughput, operations per wall s (per model s)" if scale != 1.0
         else "throughput, operations per s",
         number(throughput) + (f" ({number(throughput * scale)})"
                               if throughput and scale != 1.0 else "")],
        ["errors (failed or unknown outcome)", str(errors)],
        ["anomalies by type", found],
        [unit("visibility lag p50 / p99 / max, ms", scale),
         " / ".join(wall_model(lag.get(p), scale) for p in ("p50", "p99", "max"))],
        ["storage latency", store["latency"]],
    ])
    points = ("p50", "p95", "p99")
    latency_rows = []
    for op, data in store["ops"].items():
        cells = [op, str(data["ok"]), str(data["fail"]), str(data["info"])]
        for kind in SCALED_OPS:
            values = data[kind] or {}
            cells += [wall_model(values.get(p), scale) for p in points]
        latency_rows.append(cells)
    latency = Table(f"Latency per operation under load, {unit('ms', scale)}: client = t1 - t0 "
                    "of ok operations, server = its Server-Timing",
                    ["operation", "ok", "failed", "unknown"]
                    + [f"client {p}" for p in points] + [f"server {p}" for p in points],
                    latency_rows)
    return [run, latency]


def anomaly_table(summary: Mapping[str, Any]) -> Table:
    """Every anomaly type the checker reported (zeros included) against every store."""
    stores = summary["stores"]
    kinds = list(dict.fromkeys(kind for s in stores for kind in s["anomalies"]))
    rows = [[kind] + [f"{s['anomalies'].get(kind, {}).get('count', 0)}"
                      f" ({s['anomalies'].get(kind, {}).get('sessions', 0)})" for s in stores]
            for kind in kinds]
    return Table("Anomalies by type: count (sessions affected)",
                 ["type"] + [s["store"] for s in stores], rows)


def lag_table(summary: Mapping[str, Any]) -> Table:
    """Visibility lag percentiles of every store."""
    scale = summary["time_scale"]
    rows = [[s["store"], str(s["lag_ms"].get("count", 0))]
            + [wall_model(s["lag_ms"].get(p), scale) for p in LAG_POINTS]
            for s in summary["stores"]]
    return Table("Visibility lag, from a write being known to it showing on the other side, "
                 + unit("ms", scale), ["store", "writes measured", *LAG_POINTS], rows)


def comparison_tables(summary: Mapping[str, Any]) -> list[Table]:
    return [overview_table(summary), anomaly_table(summary), lag_table(summary)]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as ``a.b`` keys, so stores can be compared setting by setting."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return flat


def settings_table(summary: Mapping[str, Any]) -> Table:
    """Every store's meta.json side by side, one setting a row."""
    flat = [flatten(s["meta"]) for s in summary["stores"]]
    keys = list(dict.fromkeys(key for f in flat for key in f))
    return Table("Settings of every store (meta.json)",
                 ["setting"] + [s["store"] for s in summary["stores"]],
                 [[key] + [f.get(key, "") for f in flat] for key in keys])


# --- Markdown -------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    lines = [f"**{table.title}**", "",
             "| " + " | ".join(map(_md_cell, table.headers)) + " |",
             "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md``: the verdict and the tables, for a CI job summary."""
    scale = summary["time_scale"]
    parts = [f"# {TITLE}: {headline(summary)}", ""]
    for store in summary["stores"]:
        parts.append(f"- {MARK[store['gate']['passed']]} {store_sentence(store)} "
                     f"Expectation: {store['gate']['message']}.")
    parts += ["", erasure_sentence(summary)]
    picture = summary["erasure_plot"]
    if picture is not None:
        parts += ["", f"![{picture['title']}]({picture['png']})"]
    parts += ["", scale_sentence(scale), ""]
    parts += [markdown_table(table) for table in comparison_tables(summary)] + [LOST_WORDS, ""]
    for store in summary["stores"]:
        parts += [f"## {store['store']}", "", f"{store['store']}: {store['description']}.", ""]
        parts += [markdown_table(table) for table in store_tables(store, scale)]
    return "\n".join(parts)


# --- HTML -----------------------------------------------------------------------------------

STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529;
       max-width: 1240px; margin: 0 auto; padding: 1.5rem; }
h1 { margin-bottom: .2rem; } .sub { color: #6c757d; margin-top: 0; }
.verdict { border-radius: 10px; padding: 1rem 1.5rem; margin: 1rem 0 1.5rem; border: 3px solid; }
.verdict.pass { background: #ebfbee; border-color: #2b8a3e; }
.verdict.fail { background: #fff5f5; border-color: #c92a2a; }
.headline { font-size: 2rem; font-weight: 700; margin: .2rem 0 .6rem; }
.verdict li { font-size: 1.1rem; margin: .3rem 0; } .verdict li .gate { color: #495057; }
.ok { color: #2b8a3e; } .bad { color: #c92a2a; }
table { border-collapse: collapse; margin: .5rem 0 1.2rem; font-size: .85rem; }
h4 { margin: .8rem 0 .2rem; font-size: .95rem; max-width: 46rem; }
th, td { border: 1px solid #dee2e6; padding: .25rem .6rem; text-align: left; }
th { background: #f1f3f5; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 0 1.5rem; align-items: flex-start; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; border: 1px solid #dee2e6; }
figcaption { color: #495057; font-size: .95rem; }
.example { border-left: 4px solid #c92a2a; padding-left: 1rem; margin: 1rem 0; }
code { background: #f1f3f5; padding: 0 .2rem; }
"""

CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var problems = [];
  var verdict = document.getElementById("verdict");
  if (!verdict || !verdict.textContent.trim()) problems.push("no verdict");
  var images = document.images;
  if (images.length !== EXPECTED_IMAGES) problems.push(images.length + " images");
  for (var i = 0; i < images.length; i++) {
    var box = images[i].getBoundingClientRect();
    if (!images[i].complete || images[i].naturalWidth === 0) {
      problems.push("broken " + images[i].alt);
    } else if (box.width < 100 || box.height < 50) problems.push("hidden " + images[i].alt);
  }
  document.documentElement.setAttribute("data-report-check",
    problems.length ? "broken: " + problems.join("; ") : "ok");
});
"""


def _cell(text: str) -> str:
    numeric = text[:1].isdigit() or text[:1] == "-" and text[1:2].isdigit()
    return f'<td class="n">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(_cell(str(c)) for c in row) + "</tr>" for row in table.rows)
    return (f"<div><h4>{html.escape(table.title)}</h4><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _verdict_html(summary: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    items = []
    for store in summary["stores"]:
        passed = store["gate"]["passed"]
        css = "ok" if passed else "bad" if passed is False else ""
        items.append(f'<li><span class="{css}">{MARK[passed]}</span> '
                     f"<strong>{html.escape(store_sentence(store))}</strong> "
                     f'<span class="gate">Expectation: {html.escape(store["gate"]["message"])}.'
                     "</span></li>")
    css = "pass" if summary["verdict"] == PASSED else "fail"
    return (f'<section id="verdict" class="verdict {css}"><p class="headline">'
            f"{html.escape(headline(summary))}</p><ul>{''.join(items)}</ul>"
            f'<p id="erasures"><strong>{html.escape(erasure_sentence(summary))}</strong></p>'
            f"{_erasure_figure(summary, images)}"
            f"<p>{html.escape(scale_sentence(summary['time_scale']))}</p></section>")


def _figure(plot: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    return (f'<figure id="plot-{html.escape(plot["name"])}"><h3>{html.escape(plot["title"])}</h3>'
            f'<img alt="{html.escape(plot["title"])}" src="data:image/png;base64,'
            f'{base64.b64encode(images[plot["name"]]).decode("ascii")}">'
            f"<figcaption>{html.escape(plot['caption'])}</figcaption></figure>")


def _erasure_figure(summary: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    picture = summary["erasure_plot"]
    return "" if picture is None else _figure(picture, images)


def _examples_html(summary: Mapping[str, Any]) -> str:
    scale = summary["time_scale"]
    parts = ["<section id=\"explanations\"><h2>The anomalies, explained</h2>"]
    found = [kind for kind, meaning in summary["meanings"].items()
             if any(s["anomalies"].get(kind, {}).get("count") for s in summary["stores"])]
    if not found:
        parts.append("<p>No anomaly was found in any store.</p>")
    else:
        parts.append("<dl>" + "".join(
            f"<dt><code>{html.escape(kind)}</code></dt>"
            f"<dd>{html.escape(summary['meanings'][kind])}</dd>" for kind in found) + "</dl>")
    for store in summary["stores"]:
        for example in store["examples"]:
            rows = [[op["where"], op["client"], wall_model(op["start_ms"], scale),
                     wall_model(op["end_ms"], scale), op["what"]] for op in example["ops"]]
            table = Table("The operations that prove it (times since the first of them)",
                          ["history file:line", "client", unit("invoked ms", scale),
                           unit("completed ms", scale), "operation"], rows)
            parts.append(
                f'<div class="example"><h3>{html.escape(store["store"])}: '
                f"{html.escape(str(example['type']))} in session "
                f"<code>{html.escape(str(example['session']))}</code></h3>"
                f"<p>{html.escape(example['explanation'])}</p>{html_table(table)}</div>")
    return "".join(parts) + "</section>"


def _store_html(store: Mapping[str, Any], scale: float) -> str:
    notes = "".join(f"<p>Checker note: {html.escape(str(n))}</p>" for n in store["notes"])
    tables = "".join(html_table(table) for table in store_tables(store, scale))
    return (f'<section class="store" id="store-{html.escape(store["store"])}">'
            f"<h3>{html.escape(store['store'])}</h3>{notes}"
            f'<div class="tables">{tables}</div></section>')


def render_html(summary: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """``report.html``: verdict, stores, tables, figures, explanations and settings.

    ``images`` maps each plot's name (as in ``summary["plots"]``) to its PNG bytes.
    """
    scale = summary["time_scale"]
    stores = "".join(
        f"<li><strong>{html.escape(s['store'])}</strong>: {html.escape(s['description'])} "
        f"(storage latency {html.escape(s['latency'])}).</li>" for s in summary["stores"])
    tables = "".join(_store_html(s, scale) for s in summary["stores"])
    first = summary["erasure_plot"]  # shown on the first screen instead
    figures = "".join(_figure(p, images) for p in summary["plots"] if p != first)
    script = CHECK_SCRIPT.replace("EXPECTED_IMAGES", str(len(summary["plots"])))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(TITLE)}: {html.escape(headline(summary))}</title>
<style>{STYLE}</style></head>
<body>
<h1>{html.escape(TITLE)}</h1>
<p class="sub">Comparison folder <code>{html.escape(summary['campaign'])}</code>; anomalies from
{html.escape(summary['check_source'])}.</p>
{_verdict_html(summary, images)}
<nav>Sections: <a href="#stores">stores compared</a> · <a href="#tables">per store</a> ·
<a href="#plots">plots</a> · <a href="#explanations">anomalies explained</a> ·
<a href="#settings">settings</a></nav>
<section id="stores"><h2>The stores compared</h2><ul>{stores}</ul>
<div class="tables">{"".join(html_table(t) for t in comparison_tables(summary))}</div>
<p>{html.escape(LOST_WORDS)}</p></section>
<section id="tables"><h2>Per store</h2>{tables}</section>
<section id="plots"><h2>Plots</h2>{figures}</section>
{_examples_html(summary)}
<section id="settings"><h2>Settings</h2>{html_table(settings_table(summary))}</section>
<script>{script}</script>
</body></html>
"""
