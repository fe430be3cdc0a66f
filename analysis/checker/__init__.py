"""The consistency checker: finds every anomaly of docs/checker.md in a run and proves each one.

Where each rule lives (one place per anomaly type):

- ``visibility``: lost-candidate, lost-answer, stale-read, non-monotonic-read, visibility lag
- ``causes``: why an answer was lost (erased or overwritten) and the write that erased it
- ``order``: incompatible-order
- ``values``: duplicate, phantom
- ``sessions``: conflicting-answers, lost-session, which sessions are unverifiable
- ``clients``: monotonic-writes, cross-object-read (the per-client guarantees a poll can show)
- ``faults``: the faults a nemesis injected, and the durability count (writes acknowledged
  before a kill and missing after it), on its own line rather than among the anomaly types

``model`` decides which poll reads which object; ``run.check_run`` ties it together and
``result`` holds the counts and the JSON shape (``docs/checker.md``).
"""

from analysis.checker.result import ANOMALY_TYPES, RunResult, run_to_json, to_json
from analysis.checker.run import check_run

__all__ = ["ANOMALY_TYPES", "RunResult", "check_run", "run_to_json", "to_json"]
