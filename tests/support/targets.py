"""Tiny misbehaving targets for the harness to be pointed at, each a real process on loopback.

``python tests/support/targets.py MODE [server options]`` listens on a free loopback port and
prints ``server.banner``'s listening line, as ``python -m server`` does. Modes:

- ``error-500``: answers every request with 500 and a plain-text body, as a crashed backend
  behind a framework does;
- ``stall``: reads each request and never answers (holding the connection at most a minute);
- ``drop-alternate``: reads every request, and closes the connection without a byte of response
  to every other one (the first, the third, ...), as a server closing an idle keep-alive
  connection does to a request that crossed the close; the others get an answer at once (a
  poll an empty offerer's view, anything else ``{"success": true}``). (A client cannot be made
  to hit the close itself: geventhttpclient checks a pooled connection before reusing it.);
- ``no-leave``: the real signaling server (``server.app``, any ``python -m server`` option),
  except that ``POST /leave`` and ``GET /_harness/config`` answer a plain-text 404, as
  rondevu 02d460f's framework does for routes it lacks.

:class:`Target` starts one as a child process and stops it again.
"""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve()
STALL_LIMIT_S = 60.0
MISSING_ROUTES = frozenset({("POST", "/leave"), ("GET", "/_harness/config")})


class Target:
    """One target process: ``with Target("error-500") as target: ... target.url``."""

    def __init__(self, mode: str, *args: str, startup_timeout: float = 30.0) -> None:
        self.command = [sys.executable, str(HERE), mode, *args]
        self.startup_timeout = startup_timeout
        self.url = ""
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Target:
        from server.banner import parse_url

        self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         text=True)
        found = threading.Event()

        def pump() -> None:
            assert self._process and self._process.stdout
            for line in self._process.stdout:
                self.output.append(line)
                if not self.url and parse_url(line):
                    self.url = parse_url(line) or ""
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not found.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.command} did not start:\n{''.join(self.output)}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        from server.process import stop_process

        stop_process(self._process, 10)


# --- the targets themselves (run in the child process) ----------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = ""
    requests = itertools.count(1)
    """Requests seen by this process (``drop-alternate`` drops the odd ones)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib's name)
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        self._body()
        if self.mode == "error-500":
            self._send(500, b"500 Internal Server Error", "text/plain")
        elif self.mode == "stall":
            self.connection.settimeout(STALL_LIMIT_S)
            try:
                self.connection.recv(1)  # returns when the client gives up and closes
            except OSError:
                pass
            self.close_connection = True
        elif self.mode == "drop-alternate" and next(self.requests) % 2:
            self.close_connection = True
        else:
            reply = ({"answer": None, "answerCandidates": []} if self.path == "/poll"
                     else {"success": True})
            self._send(200, json.dumps(reply).encode(), "application/json")

    do_GET = do_POST = _handle


def _serve_plain(mode: str) -> None:
    handler = type("Handler", (_Handler,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    _announce(f"http://127.0.0.1:{server.server_address[1]}", mode)
    server.serve_forever()


def _announce(url: str, mode: str) -> None:
    from server.banner import listening_line

    print(listening_line(url, mode, "none"), flush=True)


async def _serve_without_routes(argv: Sequence[str]) -> None:
    from aiohttp import web

    from server.app import create_app
    from server.settings import load_settings

    @web.middleware
    async def missing(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
        if (request.method, request.path) in MISSING_ROUTES:
            return web.Response(status=404, text="404 Not Found")
        return await handler(request)

    app = create_app(load_settings(["--host", "127.0.0.1", "--port", "0", *argv]))
    app.middlewares.insert(0, missing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    _announce(f"http://{host}:{port}", "no-leave")
    try:
        await asyncio.Event().wait()  # until the parent stops this process
    finally:
        await runner.cleanup()


def main(argv: Sequence[str]) -> None:
    mode, *rest = argv
    if mode == "no-leave":
        asyncio.run(_serve_without_routes(rest))
    elif mode in ("error-500", "stall", "drop-alternate"):
        _serve_plain(mode)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
