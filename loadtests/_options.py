"""The load tests' own options, registered through Locust's argument hook.

Registering them on ``events.init_command_line_parser`` makes each one work on the command line,
in ``locust.conf``, in ``[tool.locust]`` of ``pyproject.toml``, as ``LOCUST_<NAME>`` and in the web
UI's custom parameters, and Locust's master ships them to its workers with every spawn message.
Locust marks an option for its web UI in its own ``add_argument``; an argument group's
``add_argument`` is argparse's, so :func:`add_arguments` marks each action itself. (They cannot
appear in ``locust -f loadtests --help``: Locust 2.47 prints that help before it imports the
locustfiles, in ``argument_parser.parse_locustfile_option``.) Options that can only be known once
the target answers (run id, settle time, backend name) default to ``None`` and are resolved by
the master (or the local runner) at test start, before the workers receive them.

Client timings are in *model* units and multiplied by ``--time-scale`` (``docs/baselines.md``), so one
scale keeps every ratio between the clients and the KV model as in production.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from loadtests._gathering import COUNTS, KINDS

DEFAULT_ORIGIN = "https://loadtest.invalid"
DEFAULT_CANDIDATES = ",".join(f"{kind}={low}-{high}" for kind, (low, high) in COUNTS.items())
CONNECTION_TIMEOUT_MODEL_S = 30.0
"""Model seconds a peer polls before giving up (``--connection-timeout``); the comparison's
nemesis pauses a server for longer than this, scaled, so that the clients do give up."""
SETTLE_MODES = ("fixed", "until-agreed")
"""How the final reads wait for the store to settle (``_final_reads``)."""


class _WebUiGroup:
    """An argument group whose options Locust's web UI lists (``include_in_web_ui``, as
    ``LocustArgumentParser.add_argument`` sets it), under the group's heading in ``--help``."""

    def __init__(self, group: Any) -> None:
        self._group = group

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        action = self._group.add_argument(*args, **kwargs)
        action.include_in_web_ui = True
        return action


def add_arguments(parser: Any) -> None:
    """Add the harness's options to Locust's parser (a ``LocustArgumentParser``)."""
    group = _WebUiGroup(parser.add_argument_group(
        "signaling harness", "History recording and scenario shape (docs/loadtests.md)"
    ))
    group.add_argument("--history-dir", default=None, metavar="DIR",
                       help="where each load-generating process writes <host>-<pid>.jsonl; "
                            "meta.json goes to its parent (default: results/<run-id>/history)")
    group.add_argument("--run-id", default=None, metavar="ID",
                       help="name of this run (default: <UTC time>-<backend>)")
    group.add_argument("--settle", default=None, metavar="SECONDS",
                       help="model seconds to wait after the load stops before the final reads "
                            "(default: 2, plus the KV cache TTL when the target reports kv); "
                            "for a target that does not report its settings, the longest the "
                            "final reads are repeated until two rounds agree (default: 30)")
    group.add_argument("--settle-mode", default=None, choices=SETTLE_MODES,
                       help="fixed: wait --settle, then read every session once; until-agreed: "
                            "read in rounds one poll interval apart until two agree, at most "
                            "--settle (default: fixed for a target that reports its settings, "
                            "until-agreed for one that does not)")
    group.add_argument("--session-ttl", default=None, metavar="MS",
                       help="the target's session lifetime in milliseconds, recorded as "
                            "meta.json's server.session_ttl when the target does not report it "
                            "(rondevu's: 300000); lets the checker decide lost-session")
    group.add_argument("--poll-interval", type=float, default=1000.0, metavar="MS",
                       help="model milliseconds between two polls of one peer (default: 1000)")
    group.add_argument("--candidates", default=DEFAULT_CANDIDATES, metavar="KIND=N|LO-HI,...",
                       help="ICE candidates of each kind (host, srflx, relay) per peer, drawn "
                            f"per session; kinds not named keep their default "
                            f"(default: {DEFAULT_CANDIDATES})")
    group.add_argument("--trickle", default="on", choices=("on", "off"),
                       help="on: every candidate is sent through /answer as it is gathered; "
                            "off: a peer waits for gathering to complete and sends its "
                            "candidates inside its offer or answer, as rondevu's own client "
                            "did (default: on)")
    group.add_argument("--answerers", type=int, default=3, metavar="N",
                       help="answerers racing for one offer in AnswerRace (default: 3)")
    group.add_argument("--connection-timeout", type=float, default=CONNECTION_TIMEOUT_MODEL_S,
                       metavar="SECONDS",
                       help="model seconds a peer polls before giving up (default: 30)")
    group.add_argument("--pacing", type=float, default=None, metavar="SECONDS",
                       help="model seconds from the start of one session of a user to the "
                            "start of its next, however long the last one took, the first at "
                            "a random phase: sessions start evenly at users/pacing a model "
                            "second, an open loop while each ends within the pacing (default: "
                            "each scenario's own pace, the next session as soon as one ends)")
    group.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                       help="wall seconds per model second for all client timings (default: 1.0)")
    group.add_argument("--backend-name", default=None, metavar="NAME",
                       help="what meta.json calls the target (default: the backend that "
                            "/_harness/config reports, else the host)")
    group.add_argument("--origin", default=DEFAULT_ORIGIN, metavar="URL",
                       help=f"Origin header sent with every request (default: {DEFAULT_ORIGIN})")
    group.add_argument("--hosts", default=None, metavar="URL,URL",
                       help="servers on one database to spread each scenario's peers over, so "
                            "an offerer and its answerer talk to different ones (default: "
                            "--host only; --host defaults to the first)")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_range(text: str, option: str, low_bound: int = 1) -> tuple[int, int]:
    """``"12"`` -> (12, 12); ``"4-24"`` -> (4, 24). Raises ValueError naming ``option``."""
    low, _, high = str(text).strip().partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not N or LO-HI") from None
    if not low_bound <= lo <= hi:
        raise ValueError(f"{option}: {text!r} needs {low_bound} <= LO <= HI")
    return lo, hi


def parse_candidates(text: str) -> dict[str, tuple[int, int]]:
    """``"host=2-4,relay=0"`` -> candidates of each kind per peer; kinds not named keep their
    default (``loadtests._gathering.COUNTS``). Raises ValueError naming ``--candidates``."""
    counts = dict(COUNTS)
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        kind, equals, span = part.partition("=")
        if not equals or kind.strip() not in KINDS:
            raise ValueError(f"--candidates: {part!r} is not KIND=N or KIND=LO-HI, KIND one of "
                             f"{', '.join(KINDS)}")
        counts[kind.strip()] = parse_range(span, f"--candidates {kind.strip()}", 0)
    if not any(high for _, high in counts.values()):
        raise ValueError(f"--candidates: {text!r} leaves a peer no candidate at all")
    return counts


@dataclass(frozen=True)
class LoadOptions:
    """The options as the scenarios use them: timings already in wall seconds."""

    history_dir: str | None
    run_id: str | None
    settle_model_s: float | None
    settle_mode: str | None
    poll_interval_s: float
    candidates: dict[str, tuple[int, int]]
    """Candidates of each kind per peer, a range drawn per session."""
    trickle: bool
    answerers: int
    connection_timeout_s: float
    time_scale: float
    backend_name: str | None
    origin: str
    session_ttl_ms: float | None = None
    hosts: tuple[str, ...] = ()
    pacing_s: float | None = None
    """Wall seconds between the starts of two sessions of one user (``--pacing``), or None."""

    def target(self, turn: int) -> str:
        """The base URL of the ``turn``-th peer's server; empty (Locust's ``--host``) unless
        ``--hosts`` named several."""
        return self.hosts[turn % len(self.hosts)] if len(self.hosts) > 1 else ""

    @property
    def settle_s(self) -> float:
        """Wall seconds to settle (the model default of 2 s when nothing resolved it)."""
        return (2.0 if self.settle_model_s is None else self.settle_model_s) * self.time_scale

    def discovery_phase(self, rng: random.Random) -> float:
        """Wall seconds from a new offer to an answerer's next discovery poll: its timer has
        been running at ``poll_interval_s`` since before the offer, at a phase of its own."""
        return rng.uniform(0.0, self.poll_interval_s)


def load_options(parsed: Any) -> LoadOptions:
    """Read the options from ``environment.parsed_options`` (any may be missing or blank).

    The web UI hands values back as strings and an in-process ``Environment`` may carry no
    options at all, so every value is converted here, once, with the documented default.
    """

    def get(name: str, default: Any) -> Any:
        value = getattr(parsed, name, None) if parsed is not None else None
        return default if _blank(value) else value

    scale = float(get("time_scale", 1.0))
    if scale <= 0:
        raise ValueError("--time-scale must be greater than 0")
    settle = get("settle", None)
    session_ttl = get("session_ttl", None)
    if session_ttl is not None and float(session_ttl) <= 0:
        raise ValueError("--session-ttl must be greater than 0")
    if settle is not None and float(settle) < 0:
        raise ValueError("--settle must be 0 or more")
    pacing = get("pacing", None)
    if pacing is not None and float(pacing) <= 0:
        raise ValueError("--pacing must be greater than 0")
    mode = get("settle_mode", None)
    if mode is not None and mode not in SETTLE_MODES:
        raise ValueError(f"--settle-mode: {mode!r} is not one of {', '.join(SETTLE_MODES)}")
    return LoadOptions(
        history_dir=get("history_dir", None),
        run_id=get("run_id", None),
        settle_model_s=None if settle is None else float(settle),
        settle_mode=mode,
        poll_interval_s=float(get("poll_interval", 1000.0)) / 1000.0 * scale,
        candidates=parse_candidates(get("candidates", DEFAULT_CANDIDATES)),
        trickle=_trickle(get("trickle", "on")),
        answerers=max(2, int(get("answerers", 3))),
        connection_timeout_s=float(get("connection_timeout", CONNECTION_TIMEOUT_MODEL_S)) * scale,
        time_scale=scale,
        backend_name=get("backend_name", None),
        origin=str(get("origin", DEFAULT_ORIGIN)),
        session_ttl_ms=None if session_ttl is None else float(session_ttl),
        hosts=parse_hosts(get("hosts", "")),
        pacing_s=None if pacing is None else float(pacing) * scale,
    )


def _trickle(text: str) -> bool:
    """``--trickle on|off`` (the web UI hands back any string, so it is checked here too)."""
    if text not in ("on", "off"):
        raise ValueError(f"--trickle: {text!r} is not on or off")
    return text == "on"


def parse_hosts(text: str) -> tuple[str, ...]:
    """``"http://a:1, http://b:2/"`` -> ("http://a:1", "http://b:2"); ValueError naming
    ``--hosts`` for anything but http(s) URLs."""
    hosts = tuple(part.strip().rstrip("/") for part in str(text).split(",") if part.strip())
    bad = [host for host in hosts if not host.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"--hosts: {bad[0]!r} is not an http:// or https:// URL")
    return hosts

