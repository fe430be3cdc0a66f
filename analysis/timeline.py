"""One session laid out for a person: every client's operations as intervals on a time axis.

A lost write is a claim about real time ("this poll began after that write was acknowledged and
still did not show it"); a checker's sentence states it, a picture of the session proves it at a
glance. This module turns the session's history records and the checker's proving operations
into lanes of bars; ``analysis.plots.timeline_figure`` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.history import READS, WRITES, LoadedRun, Record, record_from_json
from analysis.stats import NS_PER_MS, FaultWindow, fault_windows

ERASURE_TIMELINE = "erased-answer"
"""The figure of one session whose acknowledged answer a stale ICE candidate update erased,
which the report shows on its first screen (``analysis.plot_cli.erasure_figures``)."""
MAX_LANES = 8
SHORT_TOKEN = 6
SHORT_LIST = 4


@dataclass(frozen=True)
class Bar:
    """One operation: its lane (client), interval in wall ms since the session began, outcome."""

    lane: str
    op: str
    start_ms: float
    end_ms: float
    type: str
    label: str
    proving: bool
    final: bool = False
    culprit: bool = False
    """The write that carried an erased answer's erasure (the checker's ``culprit``)."""


@dataclass
class Timeline:
    store: str
    anomaly: str
    session: str
    explanation: str
    lanes: list[str]
    bars: list[Bar]
    time_scale: float
    faults: list[FaultWindow] = field(default_factory=list)
    """The run's faults, in ms on the bars' axis (shaded: what the server went through)."""


def shorten(token: Any) -> str:
    """A token as a figure shows it: its last characters, where tokens differ (a run's tokens
    share a long prefix), so that a read of many of them still fits on one line."""
    text = "null" if token is None else str(token)
    return text if len(text) <= SHORT_TOKEN + 1 else "\u2026" + text[-SHORT_TOKEN:]


def describe_op(record: Record, short: bool = False) -> str:
    """A few words for a bar or a table: what was written, or what a poll read.

    ``short`` abbreviates tokens (:func:`shorten`) and lists of more than a few, for figures;
    tables give them whole, so they can be searched for in the history.
    """
    token = shorten if short else (lambda value: "null" if value is None else str(value))
    op, kind = record.op, record.type
    outcome = "" if kind == "ok" else f" ({kind} {record.status or ''})".replace(" )", ")")
    if op in WRITES:
        value = record.value
        return (f"{op} {token(value)}" if value is not None else op) + outcome
    read = record.read
    if read is None:
        return op + outcome
    # A poll of the offerer side reads the answer, of the answerer side the offer (even null).
    parts = [f"{name}={token(value)}" for name, value, side in (
        ("answer", read.answer, "offerer"), ("offer", read.offer, "answerer"))
        if value is not None or record.side == side]
    if read.candidates is not None:
        tokens = [token(t) for t in read.candidates]
        if short and len(tokens) > SHORT_LIST:
            tokens = tokens[:SHORT_LIST] + [f"+{len(tokens) - SHORT_LIST} more"]
        parts.append("[" + ",".join(tokens) + "]")
    final = " final" if record.final else ""
    return f"{op}{final} " + " ".join(parts) + outcome


def lane_names(clients: Iterable[str]) -> dict[str, str]:
    """Short lane names: ``user/role`` from ``host/pid/user/role``, whole ids where that clashes."""
    clients = list(dict.fromkeys(clients))
    short = {client: "/".join(str(client).split("/")[-2:]) for client in clients}
    if len(set(short.values())) < len(short):
        return {client: str(client) for client in clients}
    return short


def lanes_for(records: Sequence[Record], proving: Sequence[bool]) -> dict[str, str]:
    """The lane of each client: its own, while there are at most ``MAX_LANES`` clients.

    Beyond that, only the peers that poll and the clients that took part in the proof keep
    their own; the rest (the many one-shot clients that trickle candidates) share one lane per
    side, since they are context rather than evidence.
    """
    own = {str(r.client) for r in records}
    if len(own) > MAX_LANES:
        own = {str(r.client) for r, proves in zip(records, proving)
               if proves or (r.op in READS and not r.final)}
    names = lane_names(c for c in (str(r.client) for r in records) if c in own)
    lanes = {}
    for record in records:
        client = str(record.client)
        if client not in lanes:
            lanes[client] = names.get(client) or f"other {record.side or 'client'} writes"
    return lanes


def session_timeline(run: LoadedRun, example: Mapping[str, Any], store: str,
                     time_scale: float = 1.0) -> Timeline:
    """The timeline of ``example``'s session, its proving operations and culprit marked.

    The checker cites each proving operation with its history ``file`` and ``line``, which is
    how they are found among the run's records; one from outside the session (another
    session's write, say) is drawn from the example itself (its JSON read as a record), so
    nothing the checker cites goes missing from the picture.
    """
    session = example.get("session")
    cited = {(op.get("file"), op.get("line")): op for op in example.get("ops", [])}
    named = example.get("culprit") or {}
    culprit = (named.get("file"), named.get("line")) if named else None
    chosen: list[tuple[Record, bool, bool]] = []  # record, proves, is the culprit
    for index, record in enumerate(run.records):
        if record.session == session:
            where = run.origin(index)
            chosen.append((record, where in cited, where == culprit))
            cited.pop(where, None)
    chosen += [(record_from_json(op), True, where == culprit) for where, op in cited.items()]
    chosen.sort(key=lambda entry: (entry[0].t0, entry[0].t1))
    records = [record for record, _, _ in chosen]
    proving = [proves for _, proves, _ in chosen]
    origin: dict[Any, int] = {}
    for record in records:
        origin.setdefault(record.host, record.t0)
    lanes = lanes_for(records, proving)
    bars = [
        Bar(lane=lanes[str(r.client)], op=r.op,
            start_ms=(r.t0 - origin[r.host]) / NS_PER_MS,
            end_ms=(r.t1 - origin[r.host]) / NS_PER_MS,
            type=r.type, label=describe_op(r, short=True), proving=proves,
            final=bool(r.final), culprit=is_culprit)
        for r, proves, is_culprit in chosen
    ]
    order = list(dict.fromkeys(lanes.values()))
    order.sort(key=lambda lane: lane.startswith("other "))
    return Timeline(store=store, anomaly=str(example.get("type")), session=str(session),
                    explanation=str(example.get("explanation", "")), lanes=order, bars=bars,
                    time_scale=time_scale,
                    faults=fault_windows(run.faults, origin, NS_PER_MS))
