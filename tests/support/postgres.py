"""A throwaway PostgreSQL cluster for the tests (``server.pgcluster``), or the reason there is none.

Where PostgreSQL is not installed the tests that need it are skipped, saying how to install it;
in CI (``CI=true``, where ``.ci/run`` installs Debian's package) they fail instead, so a missing
install step cannot pass unnoticed.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import pytest

from server.pgcluster import PostgresCluster, PostgresMissing
from support import IN_CI


def start_test_cluster() -> PostgresCluster:
    """A started cluster without fsync, in a fresh folder under the system's temporary folder
    (which the unprivileged user PostgreSQL runs as, when the tests run as root, can reach)."""
    folder = Path(tempfile.gettempdir()) / f"harness-test-pg-{secrets.token_hex(4)}"
    try:
        return PostgresCluster(folder, durable=False).start()
    except PostgresMissing as missing:
        if IN_CI:
            pytest.fail(f"CI=true needs PostgreSQL for these tests: {missing}")
        pytest.skip(str(missing))


def database_name() -> str:
    return f"test_{secrets.token_hex(6)}"
