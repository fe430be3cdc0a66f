"""A non-editable ``pip install .`` in a new virtual environment serves ``/health``.

This is what catches SQL migrations missing from the wheel: the server runs from a folder
outside the checkout, so only the installed package can be imported.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from server.process import ServerProcess
from support import ROOT


def test_installed_package_starts_and_answers_health(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    with ServerProcess(tmp_path / "installed.db", python=python, cwd=elsewhere) as server:
        assert "applied migration 0001_initial" in server.output
    where = subprocess.run([python, "-c", "import server; print(server.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, check=True)
    assert str(env_dir) in where.stdout and sys.prefix not in where.stdout
