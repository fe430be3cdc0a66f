"""The server against what an adversarial test found (issue 12), each case on a real process.

Each section reproduces one finding against ``python -m server`` (``server.process``) and holds
the bound ``docs/server-limits.md`` documents; the API-level parts also run in-process on every
backend, as the API suite does.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import re
import resource
import signal
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.exhaustion import ExhaustionLog
from server.payloads import MAX_CANDIDATE, MAX_LISTING_LIMIT
from server.process import ServerProcess
from server.stores import BACKENDS
from support import ORIGIN
from support.api import HEADERS, OFFER, ManualClock, SettingsFactory, call, create


def fetch(url: str, *, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout: float = 30.0
          ) -> tuple[int, dict[str, str], bytes]:
    """One request to a real server: status, headers and body, error statuses included."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Origin": ORIGIN, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (Linux ``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


# --- 1. a listing's cost is bounded ---------------------------------------------------------

FULL_SESSIONS = 40
FULL_OFFER = "v=0\r\n" + "o" * 60_000


@pytest.fixture(scope="module")
def full_topic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database whose topic ``room`` holds 40 sessions at the candidate bound (512), each
    candidate 8 KiB: 170 MB in one listing before the bound. Written with SQL into the file the
    server migrated, because 20,000 appends over HTTP would take most of a minute."""
    db = tmp_path_factory.mktemp("full") / "full.db"
    with ServerProcess(db) as server:
        max_candidates = int(server.settings["max_candidates"])  # type: ignore[call-overload]
    now = int(time.time() * 1000)
    with sqlite3.connect(db) as conn:
        for n in range(FULL_SESSIONS):
            code = f"full-{n}"
            conn.execute("INSERT INTO sessions VALUES (?, ?, 'room', ?, ?, NULL, ?, ?)",
                         (code, ORIGIN, f"peer-{n}", FULL_OFFER, now + n, now + 3_600_000))
            conn.executemany("INSERT INTO candidates VALUES (?, 'offerer', ?, ?)",
                             [(code, seq, "c" * MAX_CANDIDATE)
                              for seq in range(1, max_candidates + 1)])
    return db


@pytest.mark.parametrize("backend", ["sqlite", "rmw"])
def test_listings_of_a_full_topic_hold_memory_and_health_latency(full_topic: Path,
                                                                 backend: str) -> None:
    """Before the bound: three concurrent listings made 170 MB each, the server's peak RSS was
    1.7 GB and /health waited 4.7 s. The kv model cannot be filled from a file (it lives in the
    server's memory); its listing is bounded by the same handler, tested below."""
    with ServerProcess(full_topic, backend=backend) as server:
        budget = int(server.settings["listing_budget"])  # type: ignore[call-overload]
        replies: list[tuple[int, int]] = []

        def list_repeatedly() -> None:
            for _ in range(5):
                status, _, body = fetch(f"{server.url}/room/sessions?limit={MAX_LISTING_LIMIT}")
                replies.append((status, len(body)))

        listers = [threading.Thread(target=list_repeatedly) for _ in range(4)]
        for lister in listers:
            lister.start()
        health_s: list[float] = []
        while any(lister.is_alive() for lister in listers):
            started = time.monotonic()
            assert fetch(f"{server.url}/health")[0] == 200
            health_s.append(time.monotonic() - started)
        for lister in listers:
            lister.join()
        assert [status for status, _ in replies] == [200] * 20
        assert max(size for _, size in replies) <= budget + len(FULL_OFFER) + 1000
        assert peak_rss_mb(server.pid) < 200, f"peak RSS {peak_rss_mb(server.pid):.0f} MiB"
        assert max(health_s) < 0.5, f"/health took up to {max(health_s):.3f} s"


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_listing_is_newest_first_bounded_by_limit_and_budget(
    aiohttp_client: Any, api_settings: SettingsFactory, backend: str
) -> None:
    clock = ManualClock()
    client = await aiohttp_client(create_app(api_settings(backend), clock))
    codes = []
    for _ in range(3):
        codes.append(await create(client))
        clock.offset += 1
    status, body = await call(client, "GET", "/room/sessions?limit=2")
    assert status == 200
    assert [s["code"] for s in body["sessions"]] == codes[:0:-1]
    assert (body["total"], body["hasMore"]) == (3, True)
    assert set(body["sessions"][0]) == {"code", "peerId", "offer", "createdAt", "expiresAt"}
    status, body = await call(client, "GET", f"/room/sessions?limit={MAX_LISTING_LIMIT + 1}")
    assert status == 400 and "limit" in body["error"]

    small = api_settings(backend, listing_budget=len(OFFER) + 200)
    client = await aiohttp_client(create_app(small, clock))
    for _ in range(3):
        await create(client, "small")
    status, body = await call(client, "GET", "/small/sessions", headers=HEADERS)
    assert status == 200
    assert len(body["sessions"]) == 1 and (body["total"], body["hasMore"]) == (3, True)


# --- 2. a body that is not what its Content-Encoding says -----------------------------------


def test_corrupt_compressed_bodies_are_400_naming_the_encoding(tmp_path: Path) -> None:
    """Before: 500 "internal error" and a traceback in the log, for each encoding."""
    with ServerProcess(tmp_path / "s.db") as server:
        for encoding in ("gzip", "deflate", "br"):
            status, _, body = fetch(f"{server.url}/poll", method="POST",
                                    body=b'{"code": "x", "side": "offerer"}',
                                    headers={"Content-Encoding": encoding,
                                             "Content-Type": "application/json"})
            assert status == 400, body
            assert json.loads(body)["error"].startswith(f"body is not valid {encoding}")
        status, _, body = fetch(f"{server.url}/poll", method="POST",
                                body=gzip.compress(b'{"code": "x", "side": "offerer"}'),
                                headers={"Content-Encoding": "gzip"})
        assert (status, json.loads(body)) == (404, {"error": "session 'x' not found"})
        bomb = gzip.compress(b" " * (50 << 20))  # 50 KB that decompress to 50 MiB
        status, _, body = fetch(f"{server.url}/poll", method="POST", body=bomb,
                                headers={"Content-Encoding": "gzip"})
        assert status == 413 and peak_rss_mb(server.pid) < 100
        assert "Traceback" not in server.output


# --- 3. stalled requests are closed; running out of descriptors is logged once ---------------

STALLED = 371
"""More stalled connections than the server's 256 descriptors: before the read timeout, every
new client waited for ever (20 s measured) and the log grew by 23 MB of tracebacks in 20 s."""


def _stall(host: str, port: int, n: int) -> socket.socket:
    """A connection that stops mid-request: every other one inside its headers, the rest after
    headers that announce a body it never sends."""
    sock = socket.create_connection((host, port), timeout=10)
    head = b"POST /poll HTTP/1.1\r\nHost: t\r\n"
    sock.sendall(head if n % 2 else head + b"Content-Length: 100\r\n\r\n")
    return sock


def _reply_then_closed(sock: socket.socket, deadline: float) -> bytes:
    """What the server sent before closing ``sock`` (fails if it is still open at ``deadline``)."""
    received = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"still open after the deadline; got {received!r}") from None
        if not chunk:
            return received
        received += chunk


def test_stalled_requests_are_closed_and_new_clients_served_under_a_descriptor_limit(
    tmp_path: Path,
) -> None:
    timeout = 1.0
    with ServerProcess(tmp_path / "s.db", extra_args=["--read-timeout", str(timeout)]) as server:
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (256, 256))
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        started = time.monotonic()
        stalled = [_stall(host, int(port), n) for n in range(STALLED)]
        log_before = len(server.output)
        status, _, _ = fetch(f"{server.url}/health", timeout=20)
        served_after = time.monotonic() - started
        assert status == 200 and served_after < timeout + 2.0, f"served after {served_after:.2f} s"
        deadline = time.monotonic() + 3 * timeout + 5.0
        replies = [_reply_then_closed(sock, deadline) for sock in stalled]
        for sock in stalled:
            sock.close()
        assert all(reply.startswith(b"HTTP/1.1 408") and b"not received within 1 s" in reply
                   for reply in replies[::2])
        assert all(reply == b"" for reply in replies[1::2])  # closed inside its headers
        assert fetch(f"{server.url}/health")[0] == 200
        grown = server.output[log_before:]
        assert len(grown) < 2000, grown[:2000]
        assert "Traceback" not in server.output
        assert grown.count("Too many open files (EMFILE)") <= 1


def test_exhaustion_is_reported_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """The handler on its own, on a clock moved by hand: many failures, one line per interval,
    and any other error still reaches asyncio's default handler."""
    now = [0.0]
    handler = ExhaustionLog(interval_s=10.0, clock=lambda: now[0])
    defaults: list[dict[str, Any]] = []

    class Loop:
        def default_exception_handler(self, context: dict[str, Any]) -> None:
            defaults.append(context)

    loop: Any = Loop()
    emfile = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    with caplog.at_level(logging.ERROR, logger="server.exhaustion"):
        for step in range(300):  # 30 s of failures, ten a second
            now[0] = step / 10
            handler(loop, {"message": "socket.accept() out of system resource",
                           "exception": emfile})
        handler(loop, {"message": "something else", "exception": ValueError()})
    counts = [re.search(r"EMFILE\), (\d+) time", r.getMessage())[1]  # type: ignore[index]
              for r in caplog.records]
    assert counts == ["1", "100", "100"]
    assert [c["message"] for c in defaults] == ["something else"]


# --- 4. the database file deleted or replaced while the server runs --------------------------


def _lose(db: Path, how: str) -> None:
    if how == "deleted":
        db.unlink()
    else:
        other = db.with_name("other.db")
        sqlite3.connect(other).close()
        os.replace(other, db)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
@pytest.mark.parametrize("backend", ["sqlite", "rmw"])
def test_a_lost_database_file_makes_health_and_writes_503(tmp_path: Path, backend: str,
                                                         how: str) -> None:
    """Before: /health stayed ok and writes answered 200, into a file no restart would open
    (and rmw's appends, which read first, answered 500 "disk I/O error" once it was deleted)."""
    db = tmp_path / "s.db"
    offer = json.dumps({"peerId": "p", "offer": OFFER}).encode()
    with ServerProcess(db, backend=backend) as server:
        status, _, body = fetch(f"{server.url}/room/offer", method="POST", body=offer)
        assert status == 200
        code = json.loads(body)["code"]
        _lose(db, how)
        status, _, body = fetch(f"{server.url}/health")
        assert status == 503
        assert json.loads(body)["status"] == "unavailable" and how in json.loads(body)["error"]
        for path, request in [("/room/offer", {"peerId": "p", "offer": OFFER}),
                              ("/answer", {"code": code, "side": "offerer", "candidate": "c"}),
                              ("/answer", {"code": code, "side": "answerer", "answer": "a"}),
                              ("/poll", {"code": code, "side": "answerer"})]:
            status, _, body = fetch(server.url + path, method="POST",
                                    body=json.dumps(request).encode())
            assert status == 503, (path, body)
            assert f"database file was {how}" in json.loads(body)["error"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    assert server.output.count(f"{db}: the database file was {how}") == 1
    assert "Traceback" not in server.output


# --- 5. /_harness/config: no local paths, not readable from other origins --------------------


def test_harness_config_has_no_local_paths_and_is_not_shared_cross_origin(tmp_path: Path
                                                                          ) -> None:
    """Before: ``settings.db`` was the absolute database path, and the CORS middleware let any
    origin's page read it. What the load tests and the checker read is still there."""
    db = tmp_path / "private-name.db"
    with ServerProcess(db) as server:
        elsewhere = {"Origin": "https://elsewhere.example"}
        status, headers, body = fetch(f"{server.url}/_harness/config", headers=elsewhere)
        assert status == 200
        config = json.loads(body)
        assert config["backend"] == "sqlite" and "db" not in config["settings"]
        assert str(tmp_path) not in body.decode() and "private-name" not in body.decode()
        settings = config["settings"]
        assert settings["session_ttl"] == 300_000 and settings["time_scale"] == 1.0
        assert settings["kv"]["cache_ttl"] == 60.0
        assert "Access-Control-Allow-Origin" not in headers
        status, headers, _ = fetch(f"{server.url}/_harness/config", method="OPTIONS",
                                   headers={**elsewhere, "Access-Control-Request-Method": "GET"})
        assert "Access-Control-Allow-Origin" not in headers
        assert "Access-Control-Allow-Methods" not in headers
        # The signaling routes still reflect the origin, as rondevu did.
        status, headers, _ = fetch(f"{server.url}/health", headers=elsewhere)
        assert headers["Access-Control-Allow-Origin"] == "https://elsewhere.example"
        assert str(db) in server.output  # the operator's banner still names the file


# --- 6. query integers: ASCII digits only ----------------------------------------------------


def test_query_integers_are_ascii_digits_only(tmp_path: Path) -> None:
    """Before: ``int()`` read ``1_0`` as 10, ``١`` (Arabic-Indic one) as 1, and took ``+5``,
    `` 5``, ``5\\n`` and the full-width ``５``; only ASCII digits are a number now."""
    lenient = ["1_0", "١", "+5", " 5", "5\n", "５", "0x10", "-1", "1.0", ""]
    with ServerProcess(tmp_path / "s.db") as server:
        for path, name in [("/", "page"), ("/", "limit"), ("/room/sessions", "limit")]:
            for text in lenient:
                query = urllib.parse.urlencode({name: text})
                status, _, body = fetch(f"{server.url}{path}?{query}")
                assert status == 400, (path, text, body)
                assert f"query parameter {name} must be an integer in ASCII digits" in (
                    json.loads(body)["error"])
            status, _, body = fetch(f"{server.url}{path}?{name}=0007")
            assert status == 200, body
            status, _, body = fetch(f"{server.url}{path}?{name}=" + "9" * 5000)
            assert status == 400 and "must be between" in json.loads(body)["error"]
        status, _, body = fetch(f"{server.url}/?page=0010&limit=3")
        assert json.loads(body)["pagination"] == {
            "page": 10, "limit": 3, "total": 0, "hasMore": False}
