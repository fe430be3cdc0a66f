"""Runs the in-process Locust tests (``tests/locust_env``) in a pytest process of their own.

Importing Locust gevent-patches the whole interpreter, which would break the asyncio tests of this
process; ``tests/conftest.py`` therefore leaves ``locust_env`` out unless ``HARNESS_LOCUST_ENV``
is set, and this test sets it for a child pytest. This module must not import locust.

The child also leaves out the pytest-aiohttp plugin (through ``PYTEST_ADDOPTS``): it imports
aiohttp, and so ``ssl``, before Locust's gevent patching, which gevent warns may misbehave.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import ROOT


@pytest.mark.timeout(240)
def test_locust_env_suite() -> None:
    command = [sys.executable, "-m", "pytest", "tests/locust_env", "-q", "-p", "no:cacheprovider"]
    addopts = (os.environ.get("PYTEST_ADDOPTS", "") + " -p no:aiohttp").strip()
    env = {**os.environ, "HARNESS_LOCUST_ENV": "1", "PYTEST_ADDOPTS": addopts}
    child = subprocess.Popen(command, cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        sys.stdout.write(line)
    assert child.wait(timeout=200) == 0, "tests/locust_env failed (its output is above)"
    assert "locust" not in sys.modules, "this process must stay free of Locust's gevent patching"
