"""``python -m server --workers N``: N server processes on one port, behind one parent.

As several servers behind a load balancer would, the processes share nothing but the database:
each opens its own store (its own connections, its own sweeper) and serves on the same port with
``SO_REUSEPORT``, so the kernel spreads connections over them. The parent forks them, and:

- reserves the port first: a socket bound with ``SO_REUSEPORT`` that never listens (the kernel
  hands connections only to listening sockets), so ``--port 0`` picks one free port for all;
- prints the banner (``server.banner``) once, with that port, when every worker serves, so
  whoever started the server reads the same two lines as from one process;
- stops every worker on SIGTERM or SIGINT (each finishes its requests in flight), and stops the
  rest when one stops (a Ctrl-C reaches every process of the group) or dies (then it exits 1:
  a server quietly running on fewer processes is not what was asked for);
- if a worker fails to start (a bad database, a busy port), prints its one-line error and exits 2.

A worker dies with its parent (``PR_SET_PDEATHSIG``), so a SIGKILLed server is wholly gone, as
one process would be.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from . import runtime
from .serve import SHUTDOWN_TIMEOUT_S, STARTUP_ERRORS, print_banner, serve, startup_problem
from .settings import Settings

log = logging.getLogger("server.workers")

POLL_S = 0.2
PR_SET_PDEATHSIG = 1
EXIT_STARTUP, EXIT_WORKER_DIED = 2, 1


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, never listening ``SO_REUSEPORT`` socket: the workers' port, held for them."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(EXIT_WORKER_DIED)


def _worker(settings: Settings, report: Connection, parent: int) -> None:
    """One worker's life: serve, and tell the parent once it listens (or why it cannot)."""
    _die_with_parent(parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handlers are for the parent
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runtime.run(serve(settings, lambda url: report.send(("ready", url)), reuse_port=True))
    except STARTUP_ERRORS as error:
        report.send(("error", startup_problem(settings, error)))
        sys.exit(EXIT_STARTUP)


@dataclasses.dataclass
class _Worker:
    process: Any  # multiprocessing's forked Process
    report: Connection
    url: str | None = None


class _Stop:
    """Set by SIGTERM/SIGINT in the parent."""

    requested = False

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        cls.requested = True


def run_workers(settings: Settings) -> int:
    """Serve with ``settings.workers`` processes until a stop signal; the exit status."""
    try:
        reserved = reserve_port(settings.host, settings.port)
    except OSError as error:
        print(f"python -m server: error: {startup_problem(settings, error)}", file=sys.stderr)
        return EXIT_STARTUP
    with reserved:
        port = reserved.getsockname()[1]
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _Stop.handler)
        context = multiprocessing.get_context("fork")
        workers = []
        for number in range(1, settings.workers + 1):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker, args=(dataclasses.replace(settings, port=port), send, os.getpid()),
                name=f"server-worker-{number}")
            process.start()
            send.close()
            workers.append(_Worker(process, receive))
        try:
            return _supervise(settings, workers)
        finally:
            _stop_all(workers)


def _supervise(settings: Settings, workers: list[_Worker]) -> int:
    """Wait until every worker serves (then print the banner) and then for a stop or a death."""
    starting = {worker.report: worker for worker in workers}
    while starting and not _Stop.requested:
        for report in wait(list(starting), POLL_S):
            worker = starting.pop(report)  # type: ignore[call-overload]
            try:
                kind, text = report.recv()
            except EOFError:
                kind, text = "error", f"worker {worker.process.name} exited while starting"
            if kind == "error":
                print(f"python -m server: error: {text}", file=sys.stderr)
                return EXIT_STARTUP
            worker.url = text
    if _Stop.requested:
        return 0
    print_banner(settings, str(workers[0].url))
    log.info("%d workers serve %s (pids %s)", len(workers), workers[0].url,
             ", ".join(str(worker.process.pid) for worker in workers))
    sentinels = {worker.process.sentinel: worker for worker in workers}
    while not _Stop.requested:
        for sentinel in wait(list(sentinels), POLL_S):
            worker = sentinels[sentinel]  # type: ignore[index]
            worker.process.join()
            if worker.process.exitcode == 0:
                # A worker exits 0 only after a stop signal of its own: a Ctrl-C in a terminal
                # reaches every process of the group, not the parent alone.
                log.info("worker %s stopped; stopping the others", worker.process.name)
                return 0
            log.error("worker %s (pid %d) exited with status %s; stopping the others",
                      worker.process.name, worker.process.pid, worker.process.exitcode)
            return EXIT_WORKER_DIED
    log.info("stopping %d workers", len(workers))
    return 0


def _stop_all(workers: list[_Worker]) -> None:
    """SIGTERM every worker still running, then SIGKILL those that outlast the shutdown time."""
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S + 5  # one shutdown time for them all
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            log.error("worker %s did not stop in time: killing it", worker.process.name)
            worker.process.kill()
            worker.process.join()
