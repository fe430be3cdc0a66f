"""The server's one settings object, read from the command line and the environment at the edge.

Each setting is declared once, as a dataclass field whose metadata carries its help text and
check, so ``--help``, the environment variables (``SIGNALING_<NAME>``), the start-up banner and
``GET /_harness/config`` (which leaves out where the data lives: the database file, the DSN) can
never disagree about what exists. A password in ``--dsn`` is never shown, not even in the
banner.
Nested groups (the KV model's settings) get a flag prefix, e.g. ``--kv-cache-ttl`` /
``SIGNALING_KV_CACHE_TTL``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .stores import BACKENDS, POSTGRES

ENV_PREFIX = "SIGNALING_"
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A setting that cannot be used; its message says which one and how to fix it."""


def setting(
    default: Any,
    help: str,
    *,
    check: Callable[[Any], str | None] | None = None,
    choices: Sequence[str] | None = None,
    flag: str | None = None,
    local: bool = False,
    shown: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare one setting: ``check`` returns a complaint or None; ``flag`` overrides the name;
    ``local`` says where this machine keeps the data (left out of ``/_harness/config``);
    ``shown`` is how the banner prints it (a password hidden)."""
    return dataclasses.field(
        default=default,
        metadata={"help": help, "check": check, "choices": choices, "flag": flag,
                  "local": local, "shown": shown},
    )


def group(factory: Callable[[], Any], prefix: str) -> Any:
    """Declare a nested settings group whose flags and variables carry ``prefix``."""
    return dataclasses.field(default_factory=factory, metadata={"prefix": prefix})


def positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def port_number(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be between 0 and 65535 (0 picks a free port)"


MAX_SESSION_TTL_MS = 10 * 365 * 24 * 3600 * 1000


def session_lifetime(value: int) -> str | None:
    if not 0 < value <= MAX_SESSION_TTL_MS:
        return f"must be between 1 and {MAX_SESSION_TTL_MS} (ten years in ms)"
    return None


def probability(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "must be between 0 and 1"


MAX_WORKERS = 64


def worker_count(value: int) -> str | None:
    return None if 1 <= value <= MAX_WORKERS else f"must be between 1 and {MAX_WORKERS}"


POSTGRES_SCHEMES = ("postgresql", "postgres")


def postgres_uri(value: str) -> str | None:
    if value and urlsplit(value).scheme not in POSTGRES_SCHEMES:
        return "must be a postgresql:// URI, e.g. postgresql://user:password@127.0.0.1:5432/db"
    return None


def redact_dsn(dsn: str) -> str:
    """The DSN with its password (in the user part or a ``password`` parameter) as ``***``."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hostport}"
    query = urlencode([(key, "***" if key.lower() == "password" else value)
                       for key, value in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


WRITE_LIMITS = ("burst", "strict", "off")
"""The KV model's per-key write limit modes (``server.stores.kv_model.KvModel.write_central``)."""


@dataclasses.dataclass(frozen=True)
class KvSettings:
    """The KV-style baseline's model (``docs/baselines.md``); durations in model seconds."""

    edges: int = setting(4, "edge caches in the KV model (modelling choice)", check=positive)
    cache_ttl: float = setting(
        60.0, "model seconds an edge serves its cached copy (Cloudflare KV cacheTtl minimum)",
        check=positive,
    )
    write_interval: float = setting(
        1.0, "model seconds per write that one key sustains (Cloudflare KV: 1 write per second "
        "per key)", check=non_negative,
    )
    write_limit: str = setting(
        "burst", "per-key write limit: burst lets a key take --kv-write-burst writes at once and "
        "then one per --kv-write-interval, as measured; strict refuses any write within "
        "--kv-write-interval of the last accepted one, as documented; off accepts every write; "
        "a refused write fails with KV's 429 (docs/baselines.md)",
        choices=WRITE_LIMITS,
    )
    write_burst: int = setting(
        10, "writes one key accepts at once under --kv-write-limit burst (a third-party "
        "measurement saw ten writes to one key within 20 ms all accepted)", check=positive,
    )
    reroute: float = setting(
        0.0, "probability that a request goes to a random other edge", check=probability
    )
    hot_read_ms: float = setting(2.0, "model latency of a read served by an edge's cache",
                                 check=non_negative)
    cold_read_ms: float = setting(40.0, "model latency of a read from the central store",
                                  check=non_negative)
    write_ms: float = setting(50.0, "model latency of a write to the central store",
                              check=non_negative)
    jitter: float = setting(0.2, "relative jitter of every modelled latency (0.2: +/-20 %%)",
                            check=probability)
    seed: int = setting(0, "seed of the model's random choices (jitter, rerouting)")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything ``python -m server`` can be told."""

    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8080, "port to listen on", check=port_number)
    db: Path = setting(Path("signaling.db"), "SQLite database file (sqlite and rmw backends)",
                       local=True)
    dsn: str = setting(
        "", "PostgreSQL connection URI (postgres and rmw-postgres backends), e.g. "
        "postgresql://user:password@127.0.0.1:5432/signaling; its password is never printed",
        check=postgres_uri, local=True, shown=redact_dsn,
    )
    backend: str = setting("sqlite", "storage backend", choices=tuple(BACKENDS))
    workers: int = setting(
        1, "server processes sharing the port (SO_REUSEPORT), each with its own connections to "
        "the one database; the kv backend's memory is per process, so it runs one",
        check=worker_count,
    )
    synchronous: str = setting(
        "full", "SQLite fsync policy of the writer: full makes every acknowledged write survive "
        "a power cut; normal only a crashed process (faster)", choices=("full", "normal"),
    )
    session_ttl: int = setting(
        300_000, "session lifetime in milliseconds (rondevu's default)", check=session_lifetime
    )
    sweep_interval: float = setting(
        30.0, "seconds between sweeps that delete expired sessions", check=positive
    )
    max_candidates: int = setting(512, "candidates per side of one session", check=positive)
    max_body: int = setting(65_536, "largest request body in bytes", check=positive)
    listing_budget: int = setting(
        1_048_576, "bytes of session entries one GET /{topic}/sessions returns at most: the "
        "newest that fit, at least one (docs/server-limits.md)", check=positive,
    )
    read_timeout: float = setting(
        10.0, "seconds a client has to send its request's headers (from connecting, or from "
        "the previous answer on a kept-alive connection) and then its body; a connection that "
        "stalls is closed (docs/server-limits.md)", check=positive,
    )
    cors_origins: tuple[str, ...] = setting(
        (), "comma-separated origins allowed by CORS; empty reflects any origin, as rondevu did"
    )
    time_scale: float = setting(
        1.0, "wall seconds per model second of the KV model and of rmw's D1 round trip (0.1: "
        "ten times faster)", check=positive,
    )
    rmw_gap_ms: float = setting(
        200.0, "model milliseconds the rmw store waits between reading a session and writing it "
        "back: one D1 statement round trip from a Worker (a measured average of over 200 ms, "
        "docs/baselines.md); 0 only yields to the event loop", check=non_negative,
    )
    log_level: str = setting("info", "logging level", choices=LOG_LEVELS)
    kv: KvSettings = group(KvSettings, prefix="kv")

    def __post_init__(self) -> None:
        backend = BACKENDS[self.backend]
        if backend.database == POSTGRES and not self.dsn:
            raise SettingsError(f"--backend {self.backend} needs --dsn / {ENV_PREFIX}DSN "
                                "(postgresql://user:password@host:port/database)")
        if self.workers > 1 and backend.one_process:
            raise SettingsError(f"--workers / {ENV_PREFIX}WORKERS: {self.workers}: the "
                                f"{self.backend} backend keeps sessions in one process's memory")

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data, for the banner the operator reads (a DSN's
        password hidden)."""
        values = _jsonable(dataclasses.asdict(self))
        for field in dataclasses.fields(self):
            if field.metadata.get("shown"):
                values[field.name] = field.metadata["shown"](getattr(self, field.name))
        return values

    def shareable(self) -> dict[str, Any]:
        """The settings without where the data lives (database file, DSN), for
        ``GET /_harness/config`` (and so for ``meta.json``): what shapes the server's
        behaviour, not where its data is."""
        local = {field.name for field in dataclasses.fields(self) if field.metadata.get("local")}
        return {name: value for name, value in self.as_dict().items() if name not in local}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclasses.dataclass(frozen=True)
class _Option:
    field: dataclasses.Field[Any]
    dest: str
    flag: str
    env: str
    path: tuple[str, ...]


def _options(cls: type, prefix: tuple[str, ...] = ()) -> list[_Option]:
    options: list[_Option] = []
    for field in dataclasses.fields(cls):
        if "prefix" in field.metadata:
            options += _options(field.default_factory, prefix + (field.metadata["prefix"],))  # type: ignore[misc, arg-type]
            continue
        words = prefix + (field.name,)
        flag = field.metadata["flag"] or "--" + "-".join(words).replace("_", "-")
        dest = "__".join(words)
        env = ENV_PREFIX + "_".join(words).upper()
        options.append(_Option(field, dest, flag, env, prefix))
    return options


def _convert(option: _Option, text: str) -> Any:
    """Turn text from argv or the environment into the field's type, or say what is wrong."""
    kind = option.field.default
    try:
        if isinstance(kind, bool):
            raise TypeError("no boolean settings")
        if isinstance(kind, int):
            value: Any = int(text)
        elif isinstance(kind, float):
            value = float(text)
        elif isinstance(kind, Path):
            value = Path(text)
        elif isinstance(kind, tuple):
            value = _csv(text)
        else:
            value = text
    except ValueError:
        raise SettingsError(
            f"{option.flag} / {option.env}: {text!r} is not a valid {type(kind).__name__}"
        ) from None
    choices = option.field.metadata["choices"]
    if choices and value not in choices:
        raise SettingsError(
            f"{option.flag} / {option.env}: {text!r} is not one of {', '.join(choices)}"
        )
    check = option.field.metadata["check"]
    complaint = check(value) if check else None
    if complaint:
        raise SettingsError(f"{option.flag} / {option.env}: {text!r} {complaint}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag stops with one line instead of usage plus the message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog: str = "python -m server") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="WebRTC signaling server (rondevu's HTTP API) over a choice of stores. "
        f"Every option can also be set as an environment variable {ENV_PREFIX}<NAME>; "
        "the command line wins.",
    )
    for option in _options(Settings):
        default = option.field.default
        shown = (",".join(default) or "none") if isinstance(default, tuple) else default
        choices = option.field.metadata["choices"]
        parser.add_argument(
            option.flag,
            dest=option.dest,
            metavar="{" + ",".join(choices) + "}" if choices else option.field.name.upper(),
            help=f"{option.field.metadata['help']} (default: {shown}; env {option.env})",
        )
    return parser


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from defaults, then the environment, then the command line.

    Raises :class:`SettingsError` naming the first bad value; ``--help`` and unknown flags
    exit through argparse.
    """
    environ = os.environ if environ is None else environ
    args = vars(build_parser().parse_args(sys.argv[1:] if argv is None else argv))
    values: dict[tuple[str, ...], dict[str, Any]] = {}
    for option in _options(Settings):
        text = args[option.dest]
        if text is None:
            text = environ.get(option.env)
        if text is not None:
            values.setdefault(option.path, {})[option.field.name] = _convert(option, text)
    kv = KvSettings(**values.get(("kv",), {}))
    return Settings(**values.get((), {}), kv=kv)
