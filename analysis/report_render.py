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

from analysis.checker.evidence import durability_words
from analysis.checker.faults import faults_words
from analysis.checker.result import LOST_ACROSS_CRASH, Durability
from analysis.price import POINTS as PRICE_POINTS
from analysis.wording import number, plural, unit, wall_model

TITLE = "Signaling consistency report"
MARK = {True: "\u2714", False: "\u2718", None: "\u2022"}
TONE_MARK = {"good": "\u2714", "bad": "\u2718", "unknown": "?", "": "\u2022"}
TONE_CSS = {"good": "ok", "bad": "bad", "unknown": "unknown", "": ""}
FIRST_SCREEN_TITLE = "What a user of each store would have felt (under load)"
SCALED_OPS = ("client_ms", "server_ms")
PRICE_TITLE = ("The price tag: latency at the same arrival rate of sessions for every store, "
               "wall ms, the median over the runs (lowest to highest); client = t1 - t0 of ok "
               "operations (the fair figure between stores whose storage latency is real), "
               "server = its Server-Timing; '-' where too few samples support a percentile")
LOST_WORDS = ("Lost writes are the anomalies of the lost-* types: acknowledged writes that are "
              "gone for good once the store has settled. The other types are writes seen late, "
              "out of order or inconsistently; every type is explained below.")


@dataclass(frozen=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


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


def first_screen_table(summary: Mapping[str, Any]) -> Table:
    """The report's first table: the rows of ``analysis.report.FIRST_SCREEN`` by store."""
    screen = summary["first_screen"]
    return Table(FIRST_SCREEN_TITLE, ["", *screen["stores"]],
                 [[row["label"], *(_marked(cell) for cell in row["cells"])]
                  for row in screen["rows"]])


def _marked(cell: Mapping[str, str]) -> str:
    return f"{TONE_MARK[cell['tone']]} {cell['text']}" if cell["tone"] else cell["text"]


def gate_lines(summary: Mapping[str, Any]) -> list[str]:
    """The gates line, then one line per gate with its mark and message."""
    line = summary["gates_line"]
    return [line["text"]] + [f"{MARK[g['passed']]} {g['store']}: {g['message']}"
                             for g in line["gates"]]


def settling_words(settling: Mapping[str, Any] | None) -> str:
    """How the final reads were taken (meta.json's ``settling``, docs/loadtests.md)."""
    if not settling:
        return "one round after the settle time"
    rounds = plural(int(settling.get("rounds") or 0), "round")
    waited = number(settling.get("waited_s"))
    if settling.get("mode") != "until-agreed":
        return f"one round after a fixed wait of {waited} s (the target reports its lag)"
    bound = number(settling.get("bound_s"))
    if settling.get("agreed"):
        return (f"{rounds}, one poll interval apart, until two in a row agreed: "
                f"after {waited} s (bound {bound} s)")
    return (f"{rounds}; no two in a row agreed within the {bound} s bound, so the last "
            "was taken as final (a write it misses may be late rather than lost)")


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
    protocol = sum(op["protocol"] for op in store["ops"].values())
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
        ["errors (refused or unknown outcome)", str(errors)],
        ["409 to a second answer (the protocol working)", str(protocol)],
        ["verdict", f"{store['verdict']}: {store['reason']}"],
        ["anomalies by type", found],
        ["faults injected", faults_words(store["faults"])],
        ["durability", durability_words(Durability(**store["durability"]))
         or "no crash injected"],
        ["final reads", settling_words(store["settling"])],
        [unit("visibility lag p50 / p99 / max, ms", scale),
         " / ".join(wall_model(lag.get(p), scale) for p in ("p50", "p99", "max"))],
        ["storage latency", store["latency"]],
    ])
    points = ("p50", "p95", "p99")
    latency_rows = []
    for op, data in store["ops"].items():
        cells = [op, str(data["ok"]), str(data["protocol"]), str(data["fail"]),
                 str(data["info"])]
        for kind in SCALED_OPS:
            values = data[kind] or {}
            cells += [wall_model(values.get(p), scale) for p in points]
        latency_rows.append(cells)
    latency = Table(f"Latency per operation under load, {unit('ms', scale)}: client = t1 - t0 "
                    "of ok operations, server = its Server-Timing",
                    ["operation", "ok", "409 2nd answer", "refused", "unknown"]
                    + [f"client {p}" for p in points] + [f"server {p}" for p in points],
                    latency_rows)
    tables = [run, latency]
    if store["locust_failures"]:
        tables.append(Table("Locust's failures, grouped by message",
                            ["method", "name", "message", "occurrences"],
                            [[f["method"], f["name"], f["error"], f"{f['occurrences']:,}"]
                             for f in store["locust_failures"]]))
    return tables


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


def _spread_words(found: Mapping[str, Any] | None) -> str:
    """``12.3 (11.0 to 14.2)``: a median over runs and the lowest and highest of them."""
    if found is None:
        return "-"
    if found["runs"] == 1:
        return number(found["median"])
    return f"{number(found['median'])} ({number(found['min'])} to {number(found['max'])})"


def price_table(summary: Mapping[str, Any]) -> Table:
    """The price tag (``analysis.price``): every store at one arrival rate, medians over its
    runs with their spread, in wall ms."""
    rows = []
    for tag in summary["price"]:
        for op, kinds in tag["ops"].items():
            rows.append([tag["backend"], tag["latency"], str(len(tag["runs"])),
                         _spread_words(tag["arrival_rate"]), op]
                        + [_spread_words(kinds[kind][point]) for kind in SCALED_OPS
                           for point in PRICE_POINTS])
    return Table(PRICE_TITLE,
                 ["store", "storage latency", "runs", "sessions started / wall s", "operation"]
                 + [f"{side} {point}" for side in ("client", "server") for point in PRICE_POINTS],
                 rows)


def comparison_tables(summary: Mapping[str, Any]) -> list[Table]:
    return [price_table(summary), overview_table(summary), anomaly_table(summary),
            lag_table(summary)]


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
    parts = [f"# {TITLE}: {summary['headline']}", ""]
    parts += [f"- {TONE_MARK[v['tone']]} {v['text']}" for v in summary["verdicts"]]
    parts += ["", markdown_table(first_screen_table(summary))]
    parts += ["", erasure_sentence(summary)]
    picture = summary["erasure_plot"]
    if picture is not None:
        parts += ["", f"![{picture['title']}]({picture['png']})"]
    gates = gate_lines(summary)
    parts += ["", f"**{gates[0]}**", ""] + [f"- {line}" for line in gates[1:]]
    parts += ["", scale_sentence(scale), ""]
    parts += [markdown_table(table) for table in comparison_tables(summary)] + [LOST_WORDS, ""]
    for store in summary["stores"]:
        parts += [f"## {store['store']}", "", f"{store['store']}: {store['description']}.", ""]
        if store["links"]:
            parts += [" · ".join(f"[{link['label']}]({link['href']})"
                                 for link in store["links"]), ""]
        parts += [markdown_table(table) for table in store_tables(store, scale)]
    return "\n".join(parts)


# --- HTML -----------------------------------------------------------------------------------

STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529;
       max-width: 1240px; margin: 0 auto; padding: 1.5rem; }
h1 { margin-bottom: .2rem; } .sub { color: #6c757d; margin-top: 0; }
.verdict { border-radius: 10px; padding: 1rem 1.5rem; margin: 1rem 0 1.5rem;
           border: 2px solid #adb5bd; background: #f8f9fa; }
.verdict ul.stores { list-style: none; padding: 0; }
.verdict ul.stores li { font-size: 1.2rem; font-weight: 600; margin: .4rem 0; padding: .3rem .6rem;
                        border-left: 6px solid #adb5bd; background: #fff; }
.verdict ul.stores li.ok { border-color: #2b8a3e; }
.verdict ul.stores li.bad { border-color: #c92a2a; }
.verdict ul.stores li.unknown { border-color: #e67700; }
.first table { font-size: .95rem; } .first th { text-align: left; }
td.ok { background: #ebfbee; } td.bad { background: #fff5f5; } td.unknown { background: #fff4e6; }
.gates { border-top: 1px solid #dee2e6; margin-top: .8rem; }
.gates-line { font-weight: 700; margin-bottom: .2rem; }
.gates.failed .gates-line { color: #c92a2a; }
.gates ul { margin-top: 0; color: #495057; }
.ok { color: #2b8a3e; } .bad { color: #c92a2a; } .unknown { color: #e67700; }
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


def _first_screen_html(summary: Mapping[str, Any]) -> str:
    """The first table, each cell coloured by its tone."""
    screen = summary["first_screen"]
    head = "<th></th>" + "".join(f"<th>{html.escape(name)}</th>" for name in screen["stores"])
    body = "".join(
        f"<tr><th>{html.escape(row['label'])}</th>" + "".join(
            f'<td class="{TONE_CSS[cell["tone"]]}">{html.escape(_marked(cell))}</td>'
            for cell in row["cells"]) + "</tr>"
        for row in screen["rows"])
    return (f'<div class="first"><h4>{html.escape(FIRST_SCREEN_TITLE)}</h4><table><thead><tr>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _verdict_html(summary: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """The first screen: each store's verdict in a user's words, the first table, and the
    harness's gates on a line of their own."""
    verdicts = "".join(
        f'<li class="{TONE_CSS[v["tone"]]}"><span class="mark">{TONE_MARK[v["tone"]]}</span> '
        f"{html.escape(v['text'])}</li>" for v in summary["verdicts"])
    line, *gates = gate_lines(summary)
    outcome = summary["gates_line"]["outcome"].replace(" ", "-")
    gate_items = "".join(f"<li>{html.escape(text)}</li>" for text in gates)
    return (f'<section id="verdict" class="verdict"><ul class="stores">{verdicts}</ul>'
            f"{_first_screen_html(summary)}"
            f'<p id="erasures"><strong>{html.escape(erasure_sentence(summary))}</strong></p>'
            f"{_erasure_figure(summary, images)}"
            f'<div class="gates {outcome}"><p class="gates-line">{html.escape(line)}</p>'
            f"<ul>{gate_items}</ul></div>"
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
             if any(s["anomalies"].get(kind, {}).get("count") for s in summary["stores"])
             or kind == LOST_ACROSS_CRASH and any(s["durability"]["lost_across"]
                                                  for s in summary["stores"])]
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
    links = " · ".join(f'<a href="{html.escape(link["href"])}">{html.escape(link["label"])}</a>'
                       for link in store["links"])
    tables = "".join(html_table(table) for table in store_tables(store, scale))
    return (f'<section class="store" id="store-{html.escape(store["store"])}">'
            f"<h3>{html.escape(store['store'])}</h3>"
            + (f'<p class="links">Files: {links}</p>' if links else "")
            + f'{notes}<div class="tables">{tables}</div></section>')


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
<title>{html.escape(TITLE)}: {html.escape(summary['headline'])}</title>
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
