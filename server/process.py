"""Run ``python -m server`` as a child process on a free loopback port, and stop it again.

Used by the comparison (``python -m loadtests``), the benchmarks and the tests, which all need a
real server process: it starts the server with ``--port 0``, reads the address from the line the
server prints (``server.banner``), and waits for ``/health`` with a deadline instead of sleeping
a fixed time. :meth:`ServerProcess.restart` starts a killed server again on the port it had,
as the comparison's nemesis needs. Only the standard library is used, so it works the same in asyncio tests and in
gevent-patched Locust processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from server.banner import parse_settings, parse_url


class ServerStartError(RuntimeError):
    """The server exited or did not answer /health in time; the message holds its output."""


def healthy(url: str, deadline: float) -> bool:
    """Poll ``url``/health until it answers 200 (True) or ``deadline`` passes (False)."""
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[Any] | None, timeout: float) -> int | None:
    """SIGTERM, then SIGKILL if ``process`` has not stopped within ``timeout``; its status."""
    if process is None:
        return None
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class ServerProcess:
    """A server child process; use as a context manager, or call ``start``/``stop``."""

    def __init__(
        self,
        db: Path | None,
        *,
        backend: str = "sqlite",
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
        python: str = sys.executable,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        """``env`` is added to this process's environment for the server: the way to give it a
        secret (``SIGNALING_DSN``), which a command line would show to every user in ``ps``.
        ``port`` 0 takes a free one (kept across a :meth:`restart`)."""
        self.args = [python, "-m", "server", "--port", str(port), "--backend", backend]
        if db is not None:
            self.args += ["--db", str(db)]
        self.args += list(extra_args)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        self.env = dict(env or {})
        self.url = ""
        self.settings: dict[str, object] = {}
        self._process: subprocess.Popen[str] | None = None
        self._output: list[str] = []

    def start(self) -> ServerProcess:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"the server is already running (pid {self._process.pid})")
        self._process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self.cwd,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
        )
        found = threading.Event()
        threading.Thread(target=self._pump, args=(found,), daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not found.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"server did not start ({' '.join(self.args)}):\n{self.output}"
                )
        self._wait_healthy(deadline)
        return self

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        return urllib.parse.urlsplit(self.url).port or 0

    def restart(self) -> ServerProcess:
        """Start it again after it stopped (a kill, say) on the same port, database, settings
        and log: clients that were pointed at it find it again, as after a real crash and
        restart. Waits for ``/health`` like :meth:`start`."""
        if not self.url:
            raise RuntimeError("restart needs a server that was started before")
        self.args[self.args.index("--port") + 1] = str(self.port)
        self.url = ""
        return self.start()

    def _pump(self, found: threading.Event) -> None:
        """Keep reading the child's output so its pipe never fills and blocks it."""
        assert self._process and self._process.stdout
        log = self.log_path.open("a", encoding="utf-8") if self.log_path else None
        try:
            for line in self._process.stdout:
                self._output.append(line)
                if log:
                    log.write(line)
                    log.flush()
                url = parse_url(line)
                if url and not self.url:
                    self.url = url
                settings = parse_settings(line)
                if settings is not None:
                    self.settings = settings
                    found.set()
        finally:
            if log:
                log.close()

    def _wait_healthy(self, deadline: float) -> None:
        if not healthy(self.url, deadline):
            self.stop()
            raise ServerStartError(f"{self.url}/health did not answer:\n{self.output}")

    @property
    def output(self) -> str:
        return "".join(self._output)

    @property
    def pid(self) -> int:
        assert self._process
        return self._process.pid

    def send_signal(self, signum: int) -> None:
        assert self._process
        self._process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The exit status, once the server has stopped by itself (after a signal sent here)."""
        assert self._process
        return self._process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the crash a durability test needs (no clean shutdown at all; the workers of
        ``--workers`` die with it)."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if the server has not stopped within ``timeout``."""
        return stop_process(self._process, timeout)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
