"""The comparison's one settings object, read from the command line at the edge.

Defaults finish in about twelve minutes on a two-core machine (all five stores, three repeats
each); ``--quick`` in under two, with ``--servers 2`` too (what CI runs). Every store runs under
the same load and the same time scale (docs/baselines.md), so the only difference between the
runs is the store. The same load is an **arrival rate**: sessions started per model second,
the same for every store whatever its latency (an open loop: each of ``users`` users starts a
session every :data:`PACING_MODEL_S` model seconds, at a random phase: ``--pacing`` of the load
tests), where a closed loop of users would let a slow store slow its own load down. The time
scale of 0.1 is for the KV model, which only our own servers run: an external ``--host`` target
runs in real time (scale 1) unless ``--time-scale`` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.check_cli import share
from analysis.checker.evidence import DEFAULT_MIN_VERIFIED
from analysis.gates import Expectation, GateError, with_defaults
from analysis.history import KILL
from comparison.nemesis import parse_kinds
from loadtests._options import load_options
from server.pgcluster import find_binaries
from server.settings import ENV_PREFIX, OneLineParser, postgres_uri
from server.stores import BACKENDS, needs_postgres

DSN_VARIABLE = ENV_PREFIX + "DSN"


@dataclass(frozen=True)
class ComparisonSettings:
    backends: tuple[str, ...]
    host: str | None
    name: str | None
    scenarios: tuple[str, ...]
    arrival_rate: float
    """Sessions started per model second, for every store (``--arrival-rate``)."""
    repeat: int
    """Runs of each store (``--repeat``), each in a run folder of its own."""
    pacing_s: float
    """Model seconds a user aims at between two sessions (``--pacing``)."""
    duration_s: int
    settle: float | None
    time_scale: float
    stop_timeout_s: int
    output: Path
    expect: tuple[Expectation, ...]
    min_verified: float = DEFAULT_MIN_VERIFIED
    session_ttl_ms: float | None = None
    """The target's session lifetime, for a ``--host`` target that does not report it."""
    servers: int = 1
    dsn: str | None = None
    """The PostgreSQL database of the postgres backends; None: a throwaway cluster."""
    left_out: tuple[str, ...] = ()
    """Default backends left out because PostgreSQL is not installed (said in one line)."""
    nemesis: tuple[str, ...] = ()
    """The faults to inject into each server while it is loaded (``comparison.nemesis``)."""
    nemesis_interval_s: float = 10.0
    """Wall seconds before the first fault and between the end of one and the next."""

    @property
    def targets(self) -> tuple[str, ...]:
        """What the runs are called: the backends, or the external target's name."""
        return (self.name or "external",) if self.host else self.backends

    def servers_for(self, backend: str) -> int:
        """Server processes for one backend: ``--servers``, but one for a store in memory."""
        return 1 if BACKENDS[backend].one_process else self.servers

    @property
    def users(self) -> int:
        """Locust users: enough that each starts a session once every ``pacing_s`` model
        seconds (by default :data:`PACING_MODEL_S`, which outlasts a session)."""
        return max(1, math.ceil(self.arrival_rate * self.pacing_s))

    @property
    def pacing_model_s(self) -> float:
        """Model seconds between two sessions of one user, so the users make the rate."""
        return self.users / self.arrival_rate

    @property
    def spawn_rate(self) -> float:
        """Users started per wall second: all at once; each then starts its first session at a
        random phase of its pacing (``loadtests._user``), so sessions start evenly at the
        arrival rate from the first pacing interval on."""
        return float(self.users)

    @property
    def wall_rate(self) -> float:
        """The arrival rate in sessions per wall second."""
        return self.arrival_rate / self.time_scale

    def run_names(self, target: str) -> list[str]:
        """The run folder of each repeat of ``target`` (:func:`run_names`)."""
        return run_names(target, self.repeat)

    def rate_words(self) -> str:
        """The load every store gets, in one line (printed before the runs)."""
        return (f"arrival rate {self.wall_rate:g} sessions per wall second "
                f"({self.arrival_rate:g} per model second) for every store, open loop: "
                f"{self.users} users, each starting a session every "
                f"{self.pacing_model_s * self.time_scale:g} wall s; "
                f"{plural_runs(self.repeat)} of each store")


def run_names(target: str, repeat: int) -> list[str]:
    """The run folder of each of ``repeat`` runs of ``target``: its name alone for one run,
    else ``<target>-1``, ``<target>-2``, ..."""
    if repeat == 1:
        return [target]
    return [f"{target}-{number}" for number in range(1, repeat + 1)]


def plural_runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


OWN_TIME_SCALE = 0.1
"""The comparison's time scale for our own servers: the KV model's 60 s cache lasts 6 s."""
NEMESIS_INTERVAL_S = 10.0
QUICK_NEMESIS_INTERVAL_S = 2.5
"""A quick run's 8 s of load then gets two kills, with sessions made before each and read
after it."""
PACING_MODEL_S = 40.0
"""Model seconds between the starts of two sessions of one user: longer than a session lasts
(a peer gives up at the load tests' 30 s connection timeout), so a user is never late."""
ARRIVAL_RATE, QUICK_ARRIVAL_RATE = 2.4, 1.2
"""Sessions per model second (24 and 12 a wall second at time scale 0.1), about 20 operations
each: well under what the slowest store sustained on two cores when 24 users ran it in a closed
loop (about 790 operations a wall second), so no store's runs fall short of the rate."""


def default_backends(dsn: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every backend, but those on PostgreSQL only where it can be had (installed, or a
    ``--dsn``), so the README's command works on a fresh machine; (chosen, left out)."""
    if dsn or find_binaries() is not None:
        return tuple(BACKENDS), ()
    chosen = tuple(name for name in BACKENDS if not needs_postgres([name]))
    return chosen, tuple(name for name in BACKENDS if name not in chosen)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m loadtests",
        description="Run the same Locust scenarios against every store, check every history, "
        "and write a report (plots, verdict, gates) into one result folder.",
    )
    add = parser.add_argument
    add("--backends", default=None,
        help="comma-separated stores to start and load (default: "
        f"{','.join(BACKENDS)}; the PostgreSQL ones only where PostgreSQL is installed or "
        "--dsn is given)")
    add("--host", default=None, metavar="URL",
        help="load this external server instead of starting ours (no server is started)")
    add("--name", default=None, help="what the report calls the --host target")
    add("--scenarios", default="",
        help="comma-separated Locust user classes (default: every scenario in loadtests/)")
    add("--arrival-rate", type=float, default=None, metavar="SESSIONS",
        help="sessions started per model second, the same for every store, whatever its "
        f"latency (an open loop) (default: {ARRIVAL_RATE:g}; quick: {QUICK_ARRIVAL_RATE:g}; "
        "at time scale 0.1, ten times as many a wall second)")
    add("--pacing", type=float, default=PACING_MODEL_S, metavar="MODEL_SECONDS",
        help="model seconds from one session of a user to its next: the users are the rate "
        "times this; longer than a session lasts keeps the loop open (default: %(default)g; "
        "shorter only for a run shorter than that, whose users would mostly not start)")
    add("--repeat", type=int, default=None, metavar="N",
        help="runs of each store, each in a run folder of its own (<store>-1, <store>-2, ...), "
        "all checked and gated; the report gives medians and their spread (default: 3; "
        "quick: 1)")
    add("--duration", type=int, default=None, metavar="SECONDS",
        help="wall seconds of load per run (default: 25; quick: 8)")
    add("--settle", type=float, default=None, metavar="MODEL_SECONDS",
        help="for our stores: model seconds between the end of load and the final reads "
        "(default: the load tests' own, which covers the KV cache TTL); for a --host target "
        "that does not report its lag: the longest the final reads are repeated until two "
        "rounds agree (default: 30)")
    add("--time-scale", type=float, default=None,
        help="wall seconds per model second, for the KV model and the clients alike "
        f"(default: {OWN_TIME_SCALE} for our stores, 1 for a --host target)")
    add("--session-ttl", type=float, default=None, metavar="MS",
        help="a --host target's session lifetime in ms, when it has no /_harness/config to "
        "report it (rondevu's is 300000): lets the checker decide lost-session")
    add("--min-verified", type=share, default=DEFAULT_MIN_VERIFIED, metavar="SHARE",
        help="share of the sessions with an acknowledged write that must be verified for a "
        "run to be called consistent; fewer make it inconclusive (default: %(default)s)")
    add("--stop-timeout", type=int, default=None, metavar="SECONDS",
        help="wall seconds Locust lets users finish their flow when the load stops "
        "(default: 5; quick: 3)")
    add("--output", type=Path, default=None,
        help="result folder (default: results/<UTC time>)")
    add("--expect", action="append", default=[],
        metavar="TARGET=consistent|lost-writes|anomalies",
        help="gate for the report (analysis/gates.py); default: "
        + ", ".join(f"{name}={b.expected}" for name, b in BACKENDS.items()))
    add("--servers", type=int, default=1, metavar="N",
        help="server processes per store, on one database, with each scenario's peers spread "
        "over them (kv, in one process's memory, keeps one) (default: %(default)s)")
    add("--dsn", default=None, metavar="URL",
        help="PostgreSQL database for the postgres backends, which then share it (default: $"
        + DSN_VARIABLE + ", else a throwaway cluster in the result folder with a fresh database "
        "for each, removed at the end)")
    add("--nemesis", default="", metavar="KIND,...",
        help="faults to inject into each of our servers while it is loaded, in turn: kill "
        "(SIGKILL, then a restart on the same database and port), pause (SIGSTOP for longer "
        "than the clients' timeout, then SIGCONT); with kill, the default gates expect kv "
        "caught losing writes across a crash (default: none)")
    add("--nemesis-interval", type=float, default=None, metavar="SECONDS",
        help="wall seconds before the first fault and between one fault's end and the next "
        f"(default: {NEMESIS_INTERVAL_S:g}; quick: {QUICK_NEMESIS_INTERVAL_S:g})")
    add("--quick", action="store_true", help="a short run for CI: under a minute")
    return parser


def load_settings(argv: Sequence[str] | None = None) -> ComparisonSettings:
    parser = build_parser()
    args = parser.parse_args(argv)
    dsn = args.dsn or os.environ.get(DSN_VARIABLE) or None
    if args.backends is None:
        backends, left_out = default_backends(dsn)
    else:
        backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
        left_out = ()
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        parser.error(f"--backends: {', '.join(unknown) or 'none'} not among {', '.join(BACKENDS)}")
    try:  # the options the load tests take from us are checked by their own reader, early
        load_options(argparse.Namespace(time_scale=args.time_scale, settle=args.settle,
                                        session_ttl=args.session_ttl, pacing=args.pacing))
    except ValueError as error:
        parser.error(str(error))
    if args.stop_timeout is not None and args.stop_timeout < 0:
        parser.error("--stop-timeout must be 0 or more (whole seconds, as Locust takes it)")
    if args.session_ttl is not None and not args.host:
        parser.error("--session-ttl is for a --host target; our servers report their own")
    for name, value in (("--arrival-rate", args.arrival_rate), ("--repeat", args.repeat),
                        ("--duration", args.duration), ("--servers", args.servers)):
        if value is not None and value <= 0:
            parser.error(f"{name} must be greater than 0")
    if args.host and args.servers != 1:
        parser.error("--servers starts servers of ours; an external --host is one target")
    if args.host and args.dsn:
        parser.error("--dsn is the database of our own servers; an external --host has its own")
    if dsn and postgres_uri(dsn):
        parser.error(f"--dsn: {postgres_uri(dsn)}")
    try:
        nemesis = parse_kinds(args.nemesis) if args.nemesis.strip() else ()
    except ValueError as error:
        parser.error(f"--nemesis: {error}")
    if nemesis and args.host:
        parser.error("--nemesis is for our own servers: a --host target is not ours to kill")
    if args.nemesis_interval is not None and not args.nemesis_interval > 0:
        parser.error("--nemesis-interval must be greater than 0")
    quick = args.quick
    try:
        explicit = [Expectation.parse(text) for text in args.expect]
    except GateError as error:
        parser.error(str(error))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or Path("results") / stamp
    repeat = args.repeat or (1 if quick else 3)
    # The harness's own gate for each of its stores whose runs no --expect names, as the report
    # does: one entry per run folder the comparison will make, named as it will be.
    runs = [{"backend": b, "run": f"{output.name}-{name}", "path": str(output / name),
             "durability": {"kills": int(KILL in nemesis)}}
            for b in backends for name in run_names(b, repeat)]
    expect = tuple(explicit if args.host else with_defaults(explicit, runs))
    return ComparisonSettings(
        backends=backends,
        host=args.host.rstrip("/") if args.host else None,
        name=args.name,
        scenarios=tuple(s.strip() for s in args.scenarios.split(",") if s.strip()),
        arrival_rate=args.arrival_rate or (QUICK_ARRIVAL_RATE if quick else ARRIVAL_RATE),
        repeat=repeat,
        pacing_s=args.pacing,
        duration_s=args.duration or (8 if quick else 25),
        settle=args.settle,
        time_scale=args.time_scale or (1.0 if args.host else OWN_TIME_SCALE),
        stop_timeout_s=args.stop_timeout if args.stop_timeout is not None else (3 if quick else 5),
        output=output,
        left_out=left_out,
        expect=expect,
        min_verified=args.min_verified,
        session_ttl_ms=args.session_ttl,
        servers=args.servers,
        dsn=dsn,
        nemesis=nemesis,
        nemesis_interval_s=args.nemesis_interval or (QUICK_NEMESIS_INTERVAL_S if quick
                                                     else NEMESIS_INTERVAL_S),
    )
