"""The wheel, installed non-editable in a fresh virtual environment, works from outside the clone.

Inside the checkout the working folder shadows the installed package, so a module missing from
the wheel (``analysis.checker`` once was) or a migration left out of it goes unnoticed. Here the
wheel is built from a clean copy of the sources (so no stale ``build/`` of the checkout can leak
into it), installed into a new virtual environment, and every command a user runs is run from a
folder outside the clone, with no ``PYTHON*`` variable in its environment: the server (with its
migrations), the checker on a checked-in run, the report on the plots fixture, and the quick
comparison. The wheel is built and installed once for the module (a few minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.process import ServerProcess
from support import CHECKER_CASES, PLOTS_COMPARISON, ROOT

pytestmark = pytest.mark.timeout(900)

NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                     "__pycache__", ".hypothesis", ".pytest_cache", "results",
                                     "tests")


@dataclass(frozen=True)
class Installed:
    """The fresh environment: its folder and interpreter, a folder outside the clone to run
    in, and the environment variables every child gets."""

    env_dir: Path
    python: str
    outside: Path
    environ: Mapping[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``<venv python> args`` in the outside folder."""
        return subprocess.run([self.python, *args], cwd=self.outside, env=dict(self.environ),
                              capture_output=True, text=True, timeout=timeout)


def clean_environ() -> dict[str, str]:
    """This process's environment without PYTHONPATH and the other ``PYTHON*`` variables, so
    that nothing points a child back at the checkout."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("install")
    sources = Path(shutil.copytree(ROOT, work / "sources", ignore=NOT_SOURCES))
    wheels = work / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
         str(sources)],
        capture_output=True, text=True, timeout=600, env=clean_environ())
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=900, env=clean_environ())
    assert install.returncode == 0, install.stderr[-3000:]
    outside = work / "elsewhere"
    outside.mkdir()
    return Installed(env_dir, python, outside, clean_environ())


@pytest.fixture
def no_python_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ServerProcess`` passes this process's environment on: drop the ``PYTHON*`` ones."""
    for key in list(os.environ):
        if key.startswith("PYTHON"):
            monkeypatch.delenv(key)


def test_the_packages_resolve_inside_the_virtual_environment(installed: Installed) -> None:
    found = installed.run("-c", "import json, sys, analysis.checker, comparison, loadtests, "
                                "migrations, server; print(json.dumps({'path': sys.path, "
                                "'files': [m.__file__ for m in (analysis.checker, comparison, "
                                "loadtests, migrations, server)]}))")
    assert found.returncode == 0, found.stderr
    where = json.loads(found.stdout)
    site = installed.env_dir.resolve()
    for file in where["files"]:
        assert Path(file).resolve().is_relative_to(site), file
    checkout = ROOT.resolve()
    assert not [entry for entry in where["path"]
                if entry and Path(entry).resolve().is_relative_to(checkout)], where["path"]


def test_the_installed_server_migrates_and_answers_health(installed: Installed,
                                                         no_python_variables: None) -> None:
    db = installed.outside / "installed.db"
    with ServerProcess(db, python=installed.python, cwd=installed.outside) as server:
        assert "applied migration 0001_initial" in server.output  # the .sql is in the wheel
        assert f"database {db}" in server.output


def test_the_installed_server_migrates_postgres(installed: Installed, postgres_dsn: str,
                                               no_python_variables: None) -> None:
    with ServerProcess(None, backend="postgres", python=installed.python, cwd=installed.outside,
                       env={"SIGNALING_DSN": postgres_dsn}) as server:
        assert "applied migration 0001_initial" in server.output  # migrations/postgres too
        assert postgres_dsn.split("@")[1] in server.output and ":***@" in server.output


def test_the_installed_checker_explains_a_checked_in_run(installed: Installed) -> None:
    run = shutil.copytree(CHECKER_CASES / "lost-candidate", installed.outside / "lost-candidate")
    done = installed.run("-m", "analysis", "check", str(run))
    assert done.returncode == 1, done.stderr
    assert "candidate x7f of the offerer's list, written by offerer client h/1/u1/offerer," \
        in done.stdout
    assert "last read that held it: none" in done.stdout
    assert done.stdout.rstrip().endswith("overall: anomalies found (exit 1)")


def test_the_installed_report_draws_the_plots_fixture(installed: Installed) -> None:
    comparison = shutil.copytree(PLOTS_COMPARISON, installed.outside / "plots",
                                 ignore=shutil.ignore_patterns("generate.py"))
    out = installed.outside / "plots-report"
    done = installed.run("-m", "analysis", "report", str(comparison), "--output", str(out),
                         timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-2] == f"report: {out / 'report.html'}"
    assert done.stdout.strip().splitlines()[-1].startswith("exit 0: the harness's gates held")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["check_source"] == str(comparison / "check.json")
    assert len(summary["plots"]) == len(list((out / "plots").glob("*.png"))) > 5


def test_the_installed_quick_comparison_passes_its_gates(installed: Installed) -> None:
    output = installed.outside / "cmp"
    done = installed.run("-m", "loadtests", "--quick", "--output", str(output), timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (output / "report.html").stat().st_size > 0
    assert done.stdout.strip().splitlines()[-2] == f"report: {output / 'report.html'}"
    assert done.stdout.strip().splitlines()[-1].startswith("exit 0: the harness's gates held")
