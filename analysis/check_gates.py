"""``--expect`` gates for the checker: which runs an expectation applies to.

What an expectation demands, and the sentence that says whether it was met, live in
:mod:`analysis.gates`, shared with the report. An expectation applies to every run (bare) or to
the runs whose backend, run id or folder name is the selector (``kv=anomalies``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.checker.result import RunResult, run_to_json
from analysis.gates import Evidence, judge, parse_expectation


class GateError(ValueError):
    """An ``--expect`` that cannot be evaluated (bad word, or no run it applies to)."""


@dataclass(frozen=True)
class Expectation:
    selector: str | None
    """Backend, run id or folder name; None: every run."""
    expect: str

    @classmethod
    def parse(cls, text: str) -> "Expectation":
        try:
            selector, expect = parse_expectation(text)
        except ValueError as error:
            raise GateError(str(error)) from None
        return cls(selector, expect)

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
            judgement = judge(expectation.expect, Evidence.from_run_json(run_to_json(result)))
            gates.append({
                "run": result.name,
                "backend": result.backend,
                "expect": expectation.expect,
                "passed": judgement.passed,
                "message": judgement.message,
            })
    return gates
