"""Where each store's servers keep their sessions: a SQLite file, or a PostgreSQL database.

The postgres backends get the ``--dsn`` database when one is given. Otherwise the comparison
starts a throwaway PostgreSQL cluster (``server.pgcluster``) in the result folder when the first
postgres backend's turn comes, gives each postgres backend a fresh database in it, and stops and
removes the cluster when the comparison ends, however it ends (a Ctrl-C or SIGTERM included: the
campaign turns both into KeyboardInterrupt).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

from server.pgcluster import PostgresCluster
from server.stores import BACKENDS, POSTGRES

CLUSTER_FOLDER = "pgcluster"


class Databases:
    """``databases.dsn(backend)``: the DSN its servers get, or None for a SQLite file or memory."""

    def __init__(self, output: Path, dsn: str | None) -> None:
        self._output = output
        self._dsn = dsn
        self._cluster: PostgresCluster | None = None

    def dsn(self, backend: str, run: str | None = None) -> str | None:
        """The DSN for a run of ``backend``: a fresh database per ``run`` (its folder's name,
        so each repeat starts empty), unless ``--dsn`` named one for all."""
        if BACKENDS[backend].database != POSTGRES:
            return None
        if self._dsn:
            return self._dsn
        if self._cluster is None:
            self._cluster = PostgresCluster(self._output / CLUSTER_FOLDER).start()
            print(f"a throwaway PostgreSQL cluster serves 127.0.0.1:{self._cluster.port} from "
                  f"{self._cluster.folder}", flush=True)
        return self._cluster.create_database("run_" + re.sub(r"[^a-z0-9_]", "_", run or backend))

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
