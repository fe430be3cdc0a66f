"""Throughput and latency of the real server against a bare aiohttp app, and how it scales.

Run: ``python benchmarks/server_throughput.py`` (from the repository root, about two minutes).

The scale figure: the same load against the server with 1, 2 and 4 processes (``--workers``)
on sqlite (one WAL file) and on postgres (a throwaway PostgreSQL cluster, durable: fsync on, as
sqlite's ``--synchronous full``), each on a fresh database, with the bare app's figure as the
ceiling. PostgreSQL's own processes are not the server's: their CPU is shown apart.

Why a bare app: aiohttp itself costs most of a request on this kind of machine, so an absolute
req/s figure says little; the ratio sqlite/bare says how much the store, the middleware and the
handlers add on top of the framework. Both servers run as their own processes on loopback and
face the same load generator, with the same request shapes, in the same run, so the ratio is fair.

The load: ``--connections`` (50) keep-alive connections, each sending its next request as soon
as the previous one is answered (closed loop), 80 % ``POST /poll`` and 20 % ``POST /answer``
with a candidate, on 200 pre-created sessions, a random side each time. Appends stop (turning
into polls) before any side reaches 500 candidates, under the server's default bound of 512, so
the server runs with its defaults and every request should be answered 200.

The generator: ``wrk`` (Debian's package, C, one thread) if installed, since a Python client
on 2 cores takes CPU from the server it measures; else an aiohttp client in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.pgcluster import PostgresCluster, PostgresMissing  # noqa: E402
from server.process import ServerProcess, healthy, stop_process  # noqa: E402

log = logging.getLogger("benchmark")

ORIGIN = "http://bench.example"
TOPIC = "bench"
CODE_PREFIX = "bench-"
CANDIDATE_CAP = 500  # per side, over all runs; the server's default bound is 512
OFFER_SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" * 8
CANDIDATE = (
    '{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.3 5%04d typ srflx raddr '
    '0.0.0.0 rport 0 generation 0 ufrag 7Qb2 network-cost 999","sdpMid":"0",'
    '"sdpMLineIndex":0,"usernameFragment":"7Qb2"}'
)
# What the bare app answers to a poll: the shape of a real offerer's poll with a few candidates.
BARE_POLL = {"answer": None, "answerCandidates": [CANDIDATE % n for n in range(3)]}


# --- the bare app (run in its own process by ``--bare-server``) -------------------------------

async def _bare_poll(request: web.Request) -> web.Response:
    await request.json()  # the real server parses every body; so does the baseline
    return web.json_response(BARE_POLL)


async def _bare_answer(request: web.Request) -> web.Response:
    await request.json()
    return web.json_response({"success": True})


async def _bare_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def bare_app() -> web.Application:
    """The framework alone: the same routes, no middleware, no store."""
    app = web.Application()
    app.router.add_post("/poll", _bare_poll)
    app.router.add_post("/answer", _bare_answer)
    app.router.add_get("/health", _bare_health)
    return app


def serve_bare() -> None:
    """Listen on a free loopback port and print it, as ``python -m server`` does."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    web.run_app(bare_app(), sock=sock, access_log=None, print=None)


@contextmanager
def bare_process(timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """The bare app as a child process, so it has a process (and a GIL) to itself like the
    real server; yields its URL and pid."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--bare-server"], stdout=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"bare app did not start: {line!r}")
        url = line.split()[2]
        if not healthy(url, time.monotonic() + timeout):
            raise RuntimeError(f"bare app at {url} did not answer /health in {timeout} s")
        yield url, proc.pid
    finally:
        stop_process(proc, 10)


# --- load --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    connections: int
    sessions: int
    poll_share: float
    warmup_s: float
    duration_s: float

    def append_cap_per_run(self, threads: int = 1) -> int:
        """Appends one side may get in one generator run (warm-up and measurement are two runs,
        each starting its counts afresh), so no side ever passes ``CANDIDATE_CAP``."""
        return CANDIDATE_CAP // (2 * threads)


@dataclass
class Result:
    """One measured run; latencies in milliseconds."""

    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    max: float
    errors: dict[str, int]
    server_cpu: float | None = None  # cores the server's processes used (all their threads)
    generator_cpu: float | None = None  # cores the generator process used
    database_cpu: float | None = None  # cores PostgreSQL's processes used (postgres only)
    other_cpu: float | None = None  # cores everything else on the machine used: noise

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float | None:
        """Server CPU per request: unlike req/s, barely moved by other processes' load."""
        if not self.server_cpu or not self.requests:
            return None
        return self.server_cpu * self.seconds / self.requests * 1e6

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def codes(sessions: int) -> list[str]:
    return [f"{CODE_PREFIX}{i:04d}" for i in range(sessions)]


def create_sessions(url: str, sessions: int) -> None:
    """The sessions the load polls and appends to (the bare app needs none)."""
    for code in codes(sessions):
        body = json.dumps({"peerId": code, "offer": OFFER_SDP, "code": code}).encode()
        request = urllib.request.Request(
            f"{url}/{TOPIC}/offer", data=body, method="POST",
            headers={"Content-Type": "application/json", "Origin": ORIGIN},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.status


WRK_SCRIPT = """
-- Generated by benchmarks/server_throughput.py: the request mix, and the latency summary as JSON.
local poll_share, sessions, cap
local counts = {}
local n = 0
local headers = {["Content-Type"] = "application/json", ["Origin"] = ORIGIN}
local candidate = CANDIDATE

function init(args)
  poll_share = tonumber(args[1]); sessions = tonumber(args[2]); cap = tonumber(args[3])
  math.randomseed(tonumber(args[4]))
end

function request()
  local code = string.format("PREFIX%04d", math.random(0, sessions - 1))
  local side = (math.random() < 0.5) and "offerer" or "answerer"
  local key = code .. side
  if math.random() >= poll_share and (counts[key] or 0) < cap then
    counts[key] = (counts[key] or 0) + 1
    n = n + 1
    local body = string.format('{"code":"%s","side":"%s","candidate":%s}', code, side,
                               string.format(candidate, n % 10000))
    return wrk.format("POST", "/answer", headers, body)
  end
  return wrk.format("POST", "/poll", headers,
                    string.format('{"code":"%s","side":"%s"}', code, side))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script() -> str:
    return (
        WRK_SCRIPT.replace("ORIGIN", json.dumps(ORIGIN))
        .replace("CANDIDATE", json.dumps(json.dumps(CANDIDATE)))  # a Lua literal of a JSON one
        .replace("PREFIX", CODE_PREFIX)
    )


def run_wrk(url: str, load: Load, seconds: float, script: Path, seed: int) -> Result:
    """One wrk run; a single thread keeps the generator to a fraction of one core."""
    args = [
        "wrk", "-t1", f"-c{load.connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
        "-s", str(script), url, "--",
        str(load.poll_share), str(load.sessions), str(load.append_cap_per_run()), str(seed),
    ]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("RESULT "):])
    return Result(
        requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50=data["p50"] / 1000, p95=data["p95"] / 1000, p99=data["p99"] / 1000,
        max=data["max"] / 1000, errors={k: v for k, v in data["errors"].items() if v},
    )


# --- the aiohttp generator (run in its own process by ``--client``) ----------------------------

async def _client(url: str, load: Load, seconds: float, seed: int) -> dict[str, Any]:
    import aiohttp

    rng = random.Random(seed)
    all_codes = codes(load.sessions)
    counts: dict[tuple[str, str], int] = {}
    cap = load.append_cap_per_run()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    headers = {"Origin": ORIGIN}
    serial = 0

    def next_request() -> tuple[str, dict[str, str]]:
        nonlocal serial
        code, side = rng.choice(all_codes), rng.choice(("offerer", "answerer"))
        if rng.random() >= load.poll_share and counts.get((code, side), 0) < cap:
            counts[(code, side)] = counts.get((code, side), 0) + 1
            serial += 1
            candidate = CANDIDATE % (serial % 10000)
            return "/answer", {"code": code, "side": side, "candidate": candidate}
        return "/poll", {"code": code, "side": side}

    async def worker(session: aiohttp.ClientSession, stop_at: float) -> None:
        while time.monotonic() < stop_at:
            path, body = next_request()
            started = time.perf_counter()
            try:
                async with session.post(url + path, json=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors["status"] = errors.get("status", 0) + 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=load.connections)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session, started + seconds)
                               for _ in range(load.connections)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))]

    return {"requests": len(latencies) + sum(errors.values()), "seconds": elapsed,
            "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "max": latencies[-1] if latencies else 0.0, "errors": errors}


def run_aiohttp_client(url: str, load: Load, seconds: float, seed: int) -> Result:
    """The fallback generator, in its own process so it does not share a GIL with anything."""
    args = [sys.executable, __file__, "--client", url, "--seconds", str(seconds),
            "--seed", str(seed), "--connections", str(load.connections),
            "--sessions", str(load.sessions), "--poll-share", str(load.poll_share)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return Result(**json.loads(out.stdout.strip().splitlines()[-1]))


# --- the comparison ----------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process and its children (``--workers``, PostgreSQL's backends), all
    threads (Linux ``/proc``), to show whether the server was CPU-bound; None where ``/proc`` is
    missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = [int(child) for listing in Path(f"/proc/{pid}/task").glob("*/children")
                for child in listing.read_text().split()]
    return own + sum(cpu_seconds(child) or 0.0 for child in children)


def busy_seconds() -> float | None:
    """CPU seconds all cores spent busy (``/proc/stat``): with the server's and the generator's
    share, it shows how much other processes took from a run on a shared machine."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return None
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, url: str, pid: int, load: Load, generator: str, script: Path,
            database_pid: int | None = None) -> Result:
    """Warm-up (discarded), then the measured run, with the same generator for every server."""

    def run(seconds: float, seed: int) -> Result:
        if generator == "wrk":
            return run_wrk(url, load, seconds, script, seed)
        return run_aiohttp_client(url, load, seconds, seed)

    def database() -> float | None:
        return cpu_seconds(database_pid) if database_pid else None

    log.info("%s: warm-up %.0f s at %s", name, load.warmup_s, url)
    run(load.warmup_s, 1)
    log.info("%s: measuring %.0f s", name, load.duration_s)
    server_before, busy_before, gen_before = cpu_seconds(pid), busy_seconds(), children_cpu()
    database_before = database()
    started = time.monotonic()
    result = run(load.duration_s, 2)
    wall = time.monotonic() - started
    server_after, busy_after, database_after = cpu_seconds(pid), busy_seconds(), database()
    result.generator_cpu = (children_cpu() - gen_before) / wall
    if server_before is not None and server_after is not None:
        result.server_cpu = (server_after - server_before) / wall
    if database_before is not None and database_after is not None:
        result.database_cpu = (database_after - database_before) / wall
    if busy_before is not None and busy_after is not None and result.server_cpu is not None:
        result.other_cpu = max(0.0, (busy_after - busy_before) / wall - result.server_cpu
                               - result.generator_cpu - (result.database_cpu or 0.0))
    return result


def _num(value: float | None, width: int, decimals: int) -> str:
    return f"{value:{width}.{decimals}f}" if value is not None else f"{'n/a':>{width}}"


BARE = "bare aiohttp"


def label(backend: str, workers: int) -> str:
    return f"{backend} x{workers}"


def report(results: dict[str, Result], load: Load, generator: str, settings: dict[str, Any]
           ) -> str:
    bare, real = results[BARE], results[label("sqlite", 1)]
    lines = [
        f"generator: {'wrk -t1 (C)' if generator == 'wrk' else 'aiohttp client process'}; "
        "every server faced the same generator, load and request shapes in this run",
        f"load: {load.connections} connections, closed loop, {load.poll_share:.0%} POST /poll, "
        f"{1 - load.poll_share:.0%} POST /answer candidate, {load.sessions} sessions; "
        f"{load.warmup_s:.0f} s warm-up + {load.duration_s:.0f} s measured per server",
        "servers: python -m server --workers N (xN), on-disk sqlite or a durable throwaway "
        f"PostgreSQL, defaults otherwise (max_candidates={settings.get('max_candidates')}, "
        f"log_level={settings.get('log_level')})",
        "",
        f"{'':14}{'req/s':>8}{'of bare':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'requests':>9}{'errors':>7}{'CPU us/req':>11}   CPU cores: server db generator others",
    ]
    for name, r in results.items():
        cpu = "".join(_num(v, 7, 2) for v in (r.server_cpu, r.database_cpu, r.generator_cpu,
                                              r.other_cpu))
        share = f"{r.rps / bare.rps:8.0%}" if bare.rps else f"{'n/a':>8}"
        lines.append(f"{name:14}{r.rps:8.0f}{share}{r.p50:8.2f}{r.p95:8.2f}{r.p99:8.2f}"
                     f"{r.max:8.2f}{r.requests:9d}{r.error_count:7d}"
                     f"{_num(r.cpu_us_per_request, 11, 0)}{'':10}{cpu}")
        if r.errors:
            lines.append(f"{'':14}errors: {r.errors}")
    ratio = real.rps / bare.rps if bare.rps else 0.0
    lines += [
        "",
        f"ratio sqlite x1/bare: {ratio:.1%} (target >= 60 %): "
        f"{'met' if ratio >= 0.6 else 'NOT met'}",
        f"sqlite x1 p99: {real.p99:.2f} ms (target < 20 ms at {load.connections} connections): "
        f"{'met' if real.p99 < 20 else 'NOT met'}",
    ]
    if bare.cpu_us_per_request and real.cpu_us_per_request:
        lines.append("ratio by server CPU per request (bare/sqlite x1, steadier on a shared "
                     f"machine): {bare.cpu_us_per_request / real.cpu_us_per_request:.1%}")
    noisy = [name for name, r in results.items() if (r.other_cpu or 0.0) > 0.25]
    lines.append(
        f"{os.cpu_count()} cores; other processes used over 0.25 cores during {', '.join(noisy)}: "
        "req/s and latencies are disturbed, run again on a quiet machine" if noisy
        else f"{os.cpu_count()} cores; no other process took a noticeable share of the CPU"
    )
    if generator == "aiohttp":
        lines.append("caveat: a Python client tops out near the bare app's speed or below it, so "
                     "the ratio overstates the server: install wrk (apt-get install -y wrk)")
    return "\n".join(lines)


def pick_generator(wanted: str) -> str:
    if wanted in ("auto", "wrk") and shutil.which("wrk"):
        return "wrk"
    if wanted == "wrk":
        sys.exit("wrk is not installed: apt-get install -y wrk (Debian), "
                 "or use --generator aiohttp")
    log.warning("wrk is not installed (apt-get install -y wrk): falling back to an aiohttp "
                "client process, which competes with the server for the 2 cores")
    return "aiohttp"


def _measure_server(results: dict[str, Result], backend: str, workers: int,
                    cluster: PostgresCluster | None, tmp: Path, load: Load, generator: str,
                    script: Path) -> dict[str, Any]:
    """One server configuration on a fresh database; returns the settings it printed."""
    name = label(backend, workers)
    env, database_pid = {}, None
    if backend == "postgres":
        assert cluster is not None
        env = {"SIGNALING_DSN": cluster.create_database(f"bench_{workers}")}
        database_pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    with ServerProcess(tmp / f"bench-{workers}.db", backend=backend, cwd=ROOT, env=env,
                       extra_args=["--workers", str(workers)]) as server:
        log.info("%s: creating %d sessions", name, load.sessions)
        create_sessions(server.url, load.sessions)
        results[name] = measure(name, server.url, server.pid, load, generator, script,
                                database_pid)
        return server.settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--poll-share", type=float, default=0.8)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, discarded")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--workers", default="1,2,4", metavar="N[,N...]",
                        help="server processes to measure each backend with (default: 1,2,4)")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="backends to measure (default: sqlite,postgres; sqlite x1 is "
                             "always measured, the targets are judged on it)")
    # Internal modes: the child processes this script starts.
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = Load(args.connections, args.sessions, args.poll_share, args.warmup, args.duration)
    if args.bare_server:
        serve_bare()
        return 0
    if args.client:
        print(json.dumps(asyncio.run(_client(args.client, load, args.seconds, args.seed))))
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    generator = pick_generator(args.generator)
    # Defaults mean defaults: a SIGNALING_* variable left in the shell would change the server.
    dropped = [name for name in os.environ if name.startswith("SIGNALING_")]
    for name in dropped:
        log.warning("ignoring %s=%s: the benchmark runs the server with its defaults",
                    name, os.environ.pop(name))
    workers = sorted({int(n) for n in args.workers.split(",")} | {1})
    backends = ["sqlite", *(b for b in args.backends.split(",") if b.strip() not in ("", "sqlite"))]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        script = Path(tmp) / "mix.lua"
        script.write_text(wrk_script())
        with bare_process() as (url, pid):
            results[BARE] = measure("bare", url, pid, load, generator, script)
        cluster = None
        try:
            for backend in backends:
                if backend == "postgres" and cluster is None:
                    try:
                        # Beside the run's other files, where PostgreSQL's user can reach it.
                        cluster = PostgresCluster(ROOT / "results" / f"bench-pg-{os.getpid()}")
                    except PostgresMissing as missing:
                        log.warning("%s: postgres is left out", missing)
                        continue
                    cluster.start()
                for count in workers:
                    settings = _measure_server(results, backend, count, cluster, Path(tmp),
                                               load, generator, script)
        finally:
            if cluster is not None:
                cluster.stop()
    print(report(results, load, generator, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
