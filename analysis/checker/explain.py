"""Operations in words, for explanations a person can check against the history by hand.

Times are seconds since the first operation recorded on the same host: ``t0``/``t1`` are
``time.monotonic_ns()`` values, meaningful only relative to others of that host.
"""

from __future__ import annotations

from typing import Any

from analysis.history import Record


class Clock:
    """Turns a record's monotonic nanoseconds into seconds since its host's first operation."""

    def __init__(self, records: list[Record]) -> None:
        self._records = records
        self._origins: dict[str, int] | None = None

    def _all_origins(self) -> dict[str, int]:
        if self._origins is None:
            origins: dict[str, int] = {}
            for record in self._records:
                known = origins.get(record.host)
                if known is None or record.t0 < known:
                    origins[record.host] = record.t0
            self._origins = origins
        return self._origins

    def _origin(self, host: str) -> int:
        return self._all_origins()[host]

    def seconds(self, host: str, ns: int) -> float:
        """``ns`` (monotonic, on ``host``) in seconds since that host's first operation; on a
        host with no operation, since ``ns`` itself."""
        return (ns - self._all_origins().get(host, ns)) / 1e9

    def at(self, record: Record, key: str = "t0") -> str:
        """``"1.207 s"``: the record's ``t0`` (or ``t1``) on its host's scale."""
        return f"{(getattr(record, key) - self._origin(record.host)) / 1e9:.3f} s"

    def span(self, record: Record) -> str:
        """``"1.200-1.207 s"``: from invocation to completion."""
        origin = self._origin(record.host)
        return f"{(record.t0 - origin) / 1e9:.3f}-{(record.t1 - origin) / 1e9:.3f} s"


def who(record: Record) -> str:
    """``"answerer client h/12/u3/answerer"``: the role is the client's own (its last part, less
    a lane suffix), which a poll's side is not (an answerer polls the offerer's side)."""
    client = str(record.client)
    role = client.rsplit("/", 1)[-1].split(".", 1)[0] if "/" in client else None
    return f"{role or record.side or 'unknown'} client {client}"


def outcome(record: Record, clock: Clock) -> str:
    """How a write ended: acknowledged when, indeterminate, or failed with its status."""
    if record.type == "ok":
        return f"acknowledged at {clock.at(record, 't1')}"
    if record.type == "info":
        return f"indeterminate (invoked at {clock.at(record)}, no certain outcome)"
    return f"failed with status {record.status} at {clock.at(record, 't1')}"


def poll(record: Record, clock: Clock) -> str:
    """``"the poll by offerer client … at 2.000-2.010 s"`` (final reads say so)."""
    final = "final " if record.final else ""
    return f"the {final}poll by {who(record)} at {clock.span(record)}"


def shown(tokens: tuple[Any, ...], limit: int = 8) -> str:
    """A read's tokens, shortened: ``[a, b, c, … (12 in all)]``."""
    texts = [_short(token) for token in tokens[:limit]]
    more = f", … ({len(tokens)} in all)" if len(tokens) > limit else ""
    return "[" + ", ".join(texts) + more + "]"


def _short(token: Any, limit: int = 40) -> str:
    text = str(token)
    return text if len(text) <= limit else text[:limit] + "…"


def token(value: Any) -> str:
    return _short(value)
