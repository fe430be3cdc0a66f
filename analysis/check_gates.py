"""``--expect`` gates: what CI demands of each run's verdict, in both directions.

A gate is ``consistent`` or ``anomalies``, for every run (bare) or for the runs whose backend,
run id or folder name is the selector (``kv=anomalies``). A backend that claims consistency must
be found consistent, and a baseline known to lose writes must be caught: a harness that finds
nothing wrong with it has lost its teeth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.checker.result import CONSISTENT, RunResult

EXPECTATIONS = ("consistent", "anomalies")


class GateError(ValueError):
    """An ``--expect`` that cannot be evaluated (bad word, or no run it applies to)."""


@dataclass(frozen=True)
class Expectation:
    selector: str | None
    """Backend, run id or folder name; None: every run."""
    expect: str

    @classmethod
    def parse(cls, text: str) -> "Expectation":
        """``consistent``, ``anomalies``, or ``SELECTOR=consistent|anomalies``."""
        selector, _, expect = text.rpartition("=")
        if expect not in EXPECTATIONS:
            raise GateError(f"--expect {text!r}: say consistent or anomalies, optionally "
                            "after BACKEND= (e.g. kv=anomalies)")
        return cls(selector or None, expect)

    def applies_to(self, result: RunResult) -> bool:
        return self.selector is None or self.selector in (
            result.backend, result.name, Path(result.path).name)


def evaluate(expectations: Sequence[Expectation], results: Sequence[RunResult]
             ) -> list[dict[str, Any]]:
    """One gate per (expectation, run it applies to), in the ``--json`` shape."""
    gates = []
    for expectation in expectations:
        matching = [result for result in results if expectation.applies_to(result)]
        if not matching:
            raise GateError(f"--expect {expectation.selector}={expectation.expect}: no run has "
                            f"that backend, run id or folder name")
        for result in matching:
            consistent = result.verdict == CONSISTENT
            gates.append({
                "run": result.name,
                "backend": result.backend,
                "expect": expectation.expect,
                "passed": consistent == (expectation.expect == "consistent"),
            })
    return gates
