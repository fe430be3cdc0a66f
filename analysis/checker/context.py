"""What every rule needs while one run is checked: the records, the clock, where findings go."""

from __future__ import annotations

from dataclasses import dataclass, field
from analysis.checker.explain import Clock
from analysis.checker.result import Findings
from analysis.history import Record


@dataclass
class Context:
    records: list[Record]
    clock: Clock
    findings: Findings
    session_ttl_ns: int | None
    """Shortest lifetime a session can have (None: unknown, lost-session is not decided)."""
    lags_ns: list[int] = field(default_factory=list)
    """Visibility lag of every write that became visible and was not lost."""
