"""What each store under test is, in one line, and whether its latency is modelled or real.

The report must be readable by someone who has read nothing else, and the plots must say which
latencies are slept by the KV model and which are paid for real (KV_MODEL.md, "Latency model
and fairness"); both come from here so they cannot drift apart.
"""

from __future__ import annotations

DESCRIPTIONS = {
    "sqlite": "the recommended design: each write is one atomic SQLite statement or one "
              "BEGIN IMMEDIATE transaction, and the answer is written only if none is set yet",
    "rmw": "rondevu's D1 code (Nov 2025): strongly consistent storage, but each update reads "
           "the session, changes it in memory and writes the column back in a separate "
           "statement, with no check on the answer",
    "kv": "rondevu's earlier Workers KV code, emulated: the whole session is one JSON value, "
          "read from a possibly stale edge cache, changed and put back whole "
          "(last write wins, no compare-and-set)",
}

#: Stores whose storage latency is slept by a model rather than paid for real.
MODELLED = frozenset({"kv"})


def describe(backend: str, target: str | None = None) -> str:
    """One line saying what ``backend`` stands for; an unknown one is named by its target."""
    if backend in DESCRIPTIONS:
        return DESCRIPTIONS[backend]
    where = f" at {target}" if target else ""
    return f"an external target{where}, not one of the harness's own stores"


def latency_kind(backend: str) -> str:
    """``modelled`` for a store whose storage latency is slept by the KV model, else ``real``."""
    return "modelled" if backend in MODELLED else "real"
