"""What every rule needs while one run is checked: the records, the clock, where findings go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from analysis.checker.explain import Clock
from analysis.checker.result import Findings
from analysis.history import Record

if TYPE_CHECKING:
    from analysis.checker.faults import Kill


@dataclass
class Context:
    records: list[Record]
    clock: Clock
    findings: Findings
    session_ttl_ns: int | None
    """Shortest lifetime a session can have (None: unknown, lost-session is not decided)."""
    kills: dict[str, list[Kill]] = field(default_factory=dict)
    """The nemesis's kills per host (``analysis.checker.faults``), in start order."""
    lags_ns: list[int] = field(default_factory=list)
    """Visibility lag of every write that became visible and was not lost."""
