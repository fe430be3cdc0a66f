"""Every verdict word the harness prints, and the exit status each one gives, defined once.

Three kinds of word, never mixed:

- what the checker found in a run (:data:`CONSISTENT`, :data:`ANOMALIES_FOUND`,
  :data:`INCONCLUSIVE`): a run earns ``consistent`` only with evidence (enough sessions verified
  after settling, most operations answered); a proven anomaly wins over too little evidence,
  because a proof is a proof;
- what a gate expects of a run (:data:`EXPECTATIONS`: ``consistent``, ``lost-writes``,
  ``anomalies``, ``lost-across-crash``), written ``--expect [RUN=]WORD`` wherever a gate is
  set;
- whether a gate held (:data:`PASSED`, :data:`FAILED`), and for a set of gates with none in it,
  :data:`NOT_GATED`.

Every command that judges runs (``python -m analysis check`` and ``report``, ``python -m
loadtests``) exits with the same codes: :data:`EXIT_STATUS` of the verdict, 1 for a failed gate,
:data:`EXIT_UNCHECKABLE` for input that cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterable

CONSISTENT = "consistent"
ANOMALIES_FOUND = "anomalies found"
INCONCLUSIVE = "inconclusive"
RUN_VERDICTS = (CONSISTENT, ANOMALIES_FOUND, INCONCLUSIVE)

EXPECT_CONSISTENT = CONSISTENT
EXPECT_LOST_WRITES = "lost-writes"
EXPECT_ANOMALIES = "anomalies"
EXPECT_LOST_ACROSS_CRASH = "lost-across-crash"
"""For a store that acknowledges writes before they are durable, under a nemesis that kills it:
writes acknowledged before a kill must be found missing after it (the durability rule)."""
EXPECTATIONS = (EXPECT_CONSISTENT, EXPECT_ANOMALIES, EXPECT_LOST_WRITES,
                EXPECT_LOST_ACROSS_CRASH)

PASSED, FAILED, NOT_GATED = "passed", "failed", "not gated"

EXIT_STATUS = {CONSISTENT: 0, ANOMALIES_FOUND: 1, INCONCLUSIVE: 3}
"""The exit status of each run verdict; a failed gate exits 1, like anomalies."""
EXIT_GATE_FAILED = 1
EXIT_UNCHECKABLE = 2
"""The input could not be read (a malformed history line, a missing meta.json, a bad option)."""


def combined(verdicts: Iterable[str]) -> str:
    """The verdict of several runs: anomalies if any run has them, else inconclusive if any run
    is (or there is no run: nothing was shown), else consistent."""
    found = set(verdicts)
    if ANOMALIES_FOUND in found:
        return ANOMALIES_FOUND
    return INCONCLUSIVE if INCONCLUSIVE in found or not found else CONSISTENT
