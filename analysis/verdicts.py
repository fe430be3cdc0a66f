"""Every verdict word the harness prints, defined once.

Three kinds of word, never mixed:

- what the checker found in a run (:data:`CONSISTENT`, :data:`ANOMALIES_FOUND`);
- what a gate expects of a run (:data:`EXPECTATIONS`: ``consistent``, ``lost-writes``,
  ``anomalies``), written ``--expect [RUN=]WORD`` wherever a gate is set;
- whether a gate held (:data:`PASSED`, :data:`FAILED`), and for a set of gates with none in it,
  :data:`NOT_GATED`.
"""

from __future__ import annotations

CONSISTENT = "consistent"
ANOMALIES_FOUND = "anomalies found"
RUN_VERDICTS = (CONSISTENT, ANOMALIES_FOUND)

EXPECT_CONSISTENT = CONSISTENT
EXPECT_LOST_WRITES = "lost-writes"
EXPECT_ANOMALIES = "anomalies"
EXPECTATIONS = (EXPECT_CONSISTENT, EXPECT_ANOMALIES, EXPECT_LOST_WRITES)

PASSED, FAILED, NOT_GATED = "passed", "failed", "not gated"
