"""What each store under test is, for the report and the figures, with a fallback for servers
the harness did not start.

The harness's own backends are described once, in ``server.stores.BACKENDS``; a run against
someone else's server (``--host``) is named by its target and counted as real latency.
"""

from __future__ import annotations

from server.stores import BACKENDS


def describe(backend: str, target: str | None = None) -> str:
    """One line saying what ``backend`` stands for; an unknown one is named by its target."""
    if backend in BACKENDS:
        return BACKENDS[backend].stands_for
    where = f" at {target}" if target else ""
    return f"an external target{where}, not one of the harness's own stores"


def latency_kind(backend: str) -> str:
    """How a store's storage latency arises (``server.stores.Backend.latency``); ``real`` for a
    server the harness did not start."""
    return BACKENDS[backend].latency if backend in BACKENDS else "real"


def store_name(label: str) -> str:
    """The store a run's label names: ``kv`` of ``kv`` and of ``kv (kv-2)``, a label the
    analysis gives each run of a store that ran several times (``analysis.campaign``)."""
    return label.split(" ")[0]


def colour(label: str) -> str | None:
    """The fixed colour of a run labelled after one of the harness's backends (``kv`` or
    ``kv (run-2)``), else None."""
    backend = BACKENDS.get(store_name(label))
    return backend.colour if backend else None

