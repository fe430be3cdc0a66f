"""The load tests' own options, registered through Locust's argument hook.

Registering them on ``events.init_command_line_parser`` makes each one work on the command line,
in ``locust.conf``, in ``[tool.locust]`` of ``pyproject.toml``, as ``LOCUST_<NAME>`` and in the web
UI, and Locust's master ships them to its workers with every spawn message. Options that can only
be known once the target answers (run id, settle time, backend name) default to ``None`` and are
resolved by the master (or the local runner) at test start, before the workers receive them.

Client timings are in *model* units and multiplied by ``--time-scale`` (``docs/baselines.md``), so one
scale keeps every ratio between the clients and the KV model as in production.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

DEFAULT_ORIGIN = "https://loadtest.invalid"


def add_arguments(parser: Any) -> None:
    """Add the harness's options to Locust's parser (a ``LocustArgumentParser``)."""
    group = parser.add_argument_group(
        "signaling harness", "History recording and scenario shape (docs/loadtests.md)"
    )
    group.add_argument("--history-dir", default=None, metavar="DIR",
                       help="where each load-generating process writes <host>-<pid>.jsonl; "
                            "meta.json goes to its parent (default: results/<run-id>/history)")
    group.add_argument("--run-id", default=None, metavar="ID",
                       help="name of this run (default: <UTC time>-<backend>)")
    group.add_argument("--settle", default=None, metavar="SECONDS",
                       help="model seconds to wait after the load stops before the final reads "
                            "(default: 2, plus the KV cache TTL when the target reports kv)")
    group.add_argument("--poll-interval", type=float, default=1000.0, metavar="MS",
                       help="model milliseconds between two polls of one peer (default: 1000)")
    group.add_argument("--candidates", default="4-24", metavar="N|LO-HI",
                       help="ICE candidates per side, a number or a range (default: 4-24)")
    group.add_argument("--gather-window", type=float, default=2000.0, metavar="MS",
                       help="model milliseconds over which a peer gathers its candidates "
                            "(default: 2000; browsers give up after 5000)")
    group.add_argument("--answer-delay", default="1000-2000", metavar="MS|LO-HI",
                       help="model milliseconds from the offer to its answerers' first look at "
                            "it, drawn per session (default: 1000-2000: the offer turns up in "
                            "a discovery poll, as in rondevu's automatic matching)")
    group.add_argument("--answerers", type=int, default=3, metavar="N",
                       help="answerers racing for one offer in AnswerRace (default: 3)")
    group.add_argument("--connection-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="model seconds a peer polls before giving up (default: 30)")
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


def parse_range(text: str, option: str = "--candidates", low_bound: int = 1) -> tuple[int, int]:
    """``"12"`` -> (12, 12); ``"4-24"`` -> (4, 24). Raises ValueError naming ``option``."""
    low, _, high = str(text).strip().partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not N or LO-HI") from None
    if not low_bound <= lo <= hi:
        raise ValueError(f"{option}: {text!r} needs {low_bound} <= LO <= HI")
    return lo, hi


@dataclass(frozen=True)
class LoadOptions:
    """The options as the scenarios use them: timings already in wall seconds."""

    history_dir: str | None
    run_id: str | None
    settle_model_s: float | None
    poll_interval_s: float
    candidates: tuple[int, int]
    answer_delay_s: tuple[float, float]
    gather_window_s: float
    answerers: int
    connection_timeout_s: float
    time_scale: float
    backend_name: str | None
    origin: str
    hosts: tuple[str, ...] = ()

    def target(self, turn: int) -> str:
        """The base URL of the ``turn``-th peer's server; empty (Locust's ``--host``) unless
        ``--hosts`` named several."""
        return self.hosts[turn % len(self.hosts)] if len(self.hosts) > 1 else ""

    @property
    def settle_s(self) -> float:
        """Wall seconds to settle (the model default of 2 s when nothing resolved it)."""
        return (2.0 if self.settle_model_s is None else self.settle_model_s) * self.time_scale

    def candidate_count(self, rng: random.Random) -> int:
        return rng.randint(*self.candidates)

    def answer_delay(self, rng: random.Random) -> float:
        """Wall seconds before an answerer first looks at a new offer."""
        return rng.uniform(*self.answer_delay_s)


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
    return LoadOptions(
        history_dir=get("history_dir", None),
        run_id=get("run_id", None),
        settle_model_s=None if settle is None else float(settle),
        poll_interval_s=float(get("poll_interval", 1000.0)) / 1000.0 * scale,
        candidates=parse_range(get("candidates", "4-24")),
        answer_delay_s=tuple(  # type: ignore[arg-type]
            ms / 1000.0 * scale
            for ms in parse_range(get("answer_delay", "1000-2000"), "--answer-delay", 0)
        ),
        gather_window_s=float(get("gather_window", 2000.0)) / 1000.0 * scale,
        answerers=max(2, int(get("answerers", 3))),
        connection_timeout_s=float(get("connection_timeout", 30.0)) * scale,
        time_scale=scale,
        backend_name=get("backend_name", None),
        origin=str(get("origin", DEFAULT_ORIGIN)),
        hosts=parse_hosts(get("hosts", "")),
    )


def parse_hosts(text: str) -> tuple[str, ...]:
    """``"http://a:1, http://b:2/"`` -> ("http://a:1", "http://b:2"); ValueError naming
    ``--hosts`` for anything but http(s) URLs."""
    hosts = tuple(part.strip().rstrip("/") for part in str(text).split(",") if part.strip())
    bad = [host for host in hosts if not host.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"--hosts: {bad[0]!r} is not an http:// or https:// URL")
    return hosts

