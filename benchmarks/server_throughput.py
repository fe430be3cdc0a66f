"""Throughput and latency of the real server per endpoint against a bare aiohttp app, and how it
scales.

Run: ``python benchmarks/server_throughput.py`` (from the repository root, about five minutes).

Per endpoint: the server (one process, sqlite, durable defaults) and the bare app face the same
load in turn, one phase at a time, alternating within each round so that both see the machine in
the same state:

- ``offer``: ``POST /{topic}/offer``, a new session each (the server picks the code);
- ``candidate``: ``POST /answer`` with a candidate, on 2,000 sessions created beforehand;
- ``poll``: ``POST /poll`` on 200 sessions holding 3 candidates a side (the bare app answers a
  poll of that shape);
- ``mixed``: 80 % poll, 20 % candidate on 1,000 fresh sessions.

Each phase has a warm-up (discarded) and ``--rounds`` measured runs per server; the figure shown
is the run with the median req/s. The targets (``TARGETS``) are judged on those figures.

The scale figure: the mixed load against the server with 1, 2 and 4 processes (``--workers``)
on sqlite (one WAL file) and on postgres (a throwaway PostgreSQL cluster, durable: fsync on, as
sqlite's ``--synchronous full``), each on a fresh database, measured once each after a warm-up.
PostgreSQL's own processes are not the server's: their CPU is shown apart.

Why a bare app: aiohttp itself costs most of a request on this kind of machine, so an absolute
req/s figure says little; the ratio server/bare says how much the store, the middleware and the
handlers add on top of the framework. The bare app runs on the event loop and the JSON codec the
server uses (``server.runtime``, ``server.jsoncodec``), so the ratio compares like with like.
Both run as their own processes on loopback and face the same generator and request shapes.

The load: ``--connections`` (50) keep-alive connections, each sending its next request as soon
as the previous one is answered (closed loop), a random session and side each time. Appends turn
into polls before a side could reach 500 candidates, under the server's default bound of 512, so
the server runs with its defaults and every request should be answered 200; the output counts
any append so turned (``capped``).

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
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server import jsoncodec, runtime  # noqa: E402
from server.pgcluster import PostgresCluster, PostgresMissing  # noqa: E402
from server.process import ServerProcess, healthy, stop_process  # noqa: E402

log = logging.getLogger("benchmark")

ORIGIN = "http://bench.example"
TOPIC = "bench"
CANDIDATE_CAP = 500  # per side, over all runs; the server's default bound is 512
OFFER_SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" * 8
CANDIDATE = (
    '{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.3 5%04d typ srflx raddr '
    '0.0.0.0 rport 0 generation 0 ufrag 7Qb2 network-cost 999","sdpMid":"0",'
    '"sdpMLineIndex":0,"usernameFragment":"7Qb2"}'
)
POLLED_CANDIDATES = 3
"""Candidates per side in the poll phase's sessions, and in the bare app's answer to a poll."""
BARE_POLL = {"answer": None, "answerCandidates": [CANDIDATE % n for n in range(POLLED_CANDIDATES)]}


# --- the bare app (run in its own process by ``--bare-server``) -------------------------------

def _bare_json(data: Any) -> web.Response:
    return web.Response(body=jsoncodec.dumps(data), content_type="application/json")


async def _bare_offer(request: web.Request) -> web.Response:
    jsoncodec.loads(await request.read())  # the real server parses every body; so does the bare
    return _bare_json({"code": str(uuid.uuid4())})


async def _bare_poll(request: web.Request) -> web.Response:
    jsoncodec.loads(await request.read())
    return _bare_json(BARE_POLL)


async def _bare_answer(request: web.Request) -> web.Response:
    jsoncodec.loads(await request.read())
    return _bare_json({"success": True})


async def _bare_health(request: web.Request) -> web.Response:
    return _bare_json({"status": "ok"})


def bare_app() -> web.Application:
    """The framework alone: the same routes, no middleware, no store."""
    app = web.Application()
    app.router.add_post("/{topic}/offer", _bare_offer)
    app.router.add_post("/poll", _bare_poll)
    app.router.add_post("/answer", _bare_answer)
    app.router.add_get("/health", _bare_health)
    return app


async def _serve_bare() -> None:
    runner = web.AppRunner(bare_app(), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()  # until the benchmark stops the process


def serve_bare() -> None:
    """Listen on a free loopback port and print it, as ``python -m server`` does, on the
    server's event loop."""
    runtime.run(_serve_bare())


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
class Phase:
    """One kind of load: which requests, on which pre-created sessions."""

    name: str
    poll_share: float
    """Of the requests on sessions: the share that polls; the rest append a candidate."""
    pool: str = ""
    """Code prefix of the sessions it uses; empty for ``offer``, which creates its own."""
    sessions: int = 0
    candidates: int = 0
    """Candidates appended to each side of each of its sessions before it runs."""

    @property
    def creates(self) -> bool:
        return not self.pool

    def codes(self) -> list[str]:
        return [f"{self.pool}{i:04d}" for i in range(self.sessions)]


def phases(sessions: int) -> dict[str, Phase]:
    """The per-endpoint phases; ``sessions`` is the poll pool's size."""
    return {phase.name: phase for phase in (
        Phase("offer", poll_share=0.0),
        # Ten times as many sessions: a phase of appends only stays far under the bound.
        Phase("candidate", poll_share=0.0, pool="cand-", sessions=10 * sessions),
        Phase("poll", poll_share=1.0, pool="poll-", sessions=sessions,
              candidates=POLLED_CANDIDATES),
        # Five times as many: at the bare app's rate a side would otherwise near the bound, and
        # a poll carry a hundred candidates, which no session in use holds.
        Phase("mixed", poll_share=0.8, pool="mix-", sessions=5 * sessions),
    )}


MIXED = "mixed"
SCALE_PHASE = MIXED
"""The load of the scale figure."""


@dataclass(frozen=True)
class Load:
    connections: int
    warmup_s: float
    duration_s: float
    rounds: int

    def append_cap_per_run(self) -> int:
        """Appends one side may get in one generator run (the warm-up and every round are
        runs, each starting its counts afresh), so no side ever passes ``CANDIDATE_CAP``."""
        return CANDIDATE_CAP // (1 + self.rounds)


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
    capped: int = 0  # appends turned into polls at the per-run cap (should be 0)
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


def _post(url: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def prepare(url: str, phase: Phase) -> None:
    """The sessions (and candidates) ``phase`` uses; a few clients at once, so that a store
    that shares commits is not held to one fsync per setup request."""

    def fill(code: str) -> None:
        _post(url, f"/{TOPIC}/offer", {"peerId": code, "offer": OFFER_SDP, "code": code})
        for side in ("offerer", "answerer"):
            for n in range(phase.candidates):
                _post(url, "/answer", {"code": code, "side": side, "candidate": CANDIDATE % n})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fill, phase.codes()))


WRK_SCRIPT = """
-- Generated by benchmarks/server_throughput.py: the request mix, and the latency summary as JSON.
local creates, poll_share, sessions, cap, prefix
local counts = {}
local headers = {["Content-Type"] = "application/json", ["Origin"] = ORIGIN}
local candidate = CANDIDATE
local offer = OFFER
local threads = {}
n = 0
capped = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  creates = args[1] == "1"; poll_share = tonumber(args[2]); sessions = tonumber(args[3])
  cap = tonumber(args[4]); math.randomseed(tonumber(args[5])); prefix = args[6]
end

function request()
  n = n + 1
  if creates then
    return wrk.format("POST", "/TOPIC/offer", headers,
                      string.format('{"peerId":"peer-%d","offer":%s}', n, offer))
  end
  local code = string.format("%s%04d", prefix, math.random(0, sessions - 1))
  local side = (math.random() < 0.5) and "offerer" or "answerer"
  local key = code .. side
  if math.random() >= poll_share then
    if (counts[key] or 0) < cap then
      counts[key] = (counts[key] or 0) + 1
      local body = string.format('{"code":"%s","side":"%s","candidate":%s}', code, side,
                                 string.format(candidate, n % 10000))
      return wrk.format("POST", "/answer", headers, body)
    end
    capped = capped + 1
  end
  return wrk.format("POST", "/poll", headers,
                    string.format('{"code":"%s","side":"%s"}', code, side))
end

function done(summary, latency, requests)
  local e = summary.errors
  local turned = 0
  for _, thread in ipairs(threads) do turned = turned + (thread:get("capped") or 0) end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"capped":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, turned, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""


def wrk_script() -> str:
    return (
        WRK_SCRIPT.replace("ORIGIN", json.dumps(ORIGIN))
        .replace("CANDIDATE", json.dumps(json.dumps(CANDIDATE)))  # a Lua literal of a JSON one
        .replace("OFFER", json.dumps(json.dumps(OFFER_SDP)))
        .replace("TOPIC", TOPIC)
    )


def run_wrk(url: str, phase: Phase, load: Load, seconds: float, script: Path, seed: int
            ) -> Result:
    """One wrk run; a single thread keeps the generator to a fraction of one core."""
    args = [
        "wrk", "-t1", f"-c{load.connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
        "-s", str(script), url, "--", "1" if phase.creates else "0", str(phase.poll_share),
        str(phase.sessions), str(load.append_cap_per_run()), str(seed), phase.pool,
    ]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next((text for text in out.stdout.splitlines() if text.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("RESULT "):])
    return Result(
        requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50=data["p50"] / 1000, p95=data["p95"] / 1000, p99=data["p99"] / 1000,
        max=data["max"] / 1000, errors={k: v for k, v in data["errors"].items() if v},
        capped=data["capped"],
    )


# --- the aiohttp generator (run in its own process by ``--client``) ----------------------------

async def _client(url: str, phase: Phase, load: Load, seconds: float, seed: int
                  ) -> dict[str, Any]:
    import aiohttp

    rng = random.Random(seed)
    all_codes = phase.codes()
    counts: dict[tuple[str, str], int] = {}
    cap = load.append_cap_per_run()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    headers = {"Origin": ORIGIN}
    serial = capped = 0

    def next_request() -> tuple[str, dict[str, str]]:
        nonlocal serial, capped
        serial += 1
        if phase.creates:
            return f"/{TOPIC}/offer", {"peerId": f"peer-{serial}", "offer": OFFER_SDP}
        code, side = rng.choice(all_codes), rng.choice(("offerer", "answerer"))
        if rng.random() >= phase.poll_share:
            if counts.get((code, side), 0) < cap:
                counts[(code, side)] = counts.get((code, side), 0) + 1
                candidate = CANDIDATE % (serial % 10000)
                return "/answer", {"code": code, "side": side, "candidate": candidate}
            capped += 1
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
            "max": latencies[-1] if latencies else 0.0, "errors": errors, "capped": capped}


def run_aiohttp_client(url: str, phase: Phase, load: Load, seconds: float, seed: int) -> Result:
    """The fallback generator, in its own process so it does not share a GIL with anything."""
    args = [sys.executable, __file__, "--client", url, "--phase", phase.name,
            "--seconds", str(seconds), "--seed", str(seed), "--connections",
            str(load.connections), "--rounds", str(load.rounds)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return Result(**json.loads(out.stdout.strip().splitlines()[-1]))


# --- measuring ---------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Target:
    """A server under test: where it listens, whose CPU is its own, and PostgreSQL's pid."""

    name: str
    url: str
    pid: int
    database_pid: int | None = None


class Bench:
    """Runs the generator against targets with one script, load and generator."""

    def __init__(self, load: Load, generator: str, script: Path) -> None:
        self.load, self.generator, self.script = load, generator, script

    def _run(self, target: Target, phase: Phase, seconds: float, seed: int) -> Result:
        if self.generator == "wrk":
            return run_wrk(target.url, phase, self.load, seconds, self.script, seed)
        return run_aiohttp_client(target.url, phase, self.load, seconds, seed)

    def warm_up(self, target: Target, phase: Phase) -> None:
        log.info("%s, %s: warm-up %.0f s", target.name, phase.name, self.load.warmup_s)
        self._run(target, phase, self.load.warmup_s, 1)

    def measure(self, target: Target, phase: Phase, seed: int) -> Result:
        """One measured run, with the CPU of the server, PostgreSQL, generator and the rest."""

        def database() -> float | None:
            return cpu_seconds(target.database_pid) if target.database_pid else None

        log.info("%s, %s: measuring %.0f s", target.name, phase.name, self.load.duration_s)
        server_before, busy_before, gen_before = cpu_seconds(target.pid), busy_seconds(), \
            children_cpu()
        database_before = database()
        started = time.monotonic()
        result = self._run(target, phase, self.load.duration_s, seed)
        wall = time.monotonic() - started
        server_after, busy_after, database_after = cpu_seconds(target.pid), busy_seconds(), \
            database()
        result.generator_cpu = (children_cpu() - gen_before) / wall
        if server_before is not None and server_after is not None:
            result.server_cpu = (server_after - server_before) / wall
        if database_before is not None and database_after is not None:
            result.database_cpu = (database_after - database_before) / wall
        if busy_before is not None and busy_after is not None and result.server_cpu is not None:
            result.other_cpu = max(0.0, (busy_after - busy_before) / wall - result.server_cpu
                                   - result.generator_cpu - (result.database_cpu or 0.0))
        return result


def median_run(runs: list[Result]) -> Result:
    """The run with the median req/s (of an even count, the lower middle one)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


# --- the report --------------------------------------------------------------------------------

BARE = "bare aiohttp"
SERVER = "sqlite x1"

RONDEVU_IN_MEMORY = {"offer": 1759, "candidate": 1752, "poll": 1827}
"""req/s of rondevu's own Node server (commit 02d460f, sessions in memory) on this machine:
wrk, 50 connections, 8 s phases, median of 2 rounds (issue 11). The server must do 1.5 times
as well on each endpoint."""
RONDEVU_FACTOR = 1.5
CEILING_SHARE = 0.6
P99_MS = 20.0


def label(backend: str, workers: int) -> str:
    return f"{backend} x{workers}"


def _num(value: float | None, width: int, decimals: int) -> str:
    return f"{value:{width}.{decimals}f}" if value is not None else f"{'n/a':>{width}}"


HEADER = (f"{'':14}{'req/s':>8}{'of bare':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'max ms':>8}{'requests':>9}{'errors':>7}{'CPU us/req':>11}"
          "   CPU cores: server db generator others")


def _row(name: str, r: Result, bare: Result | None) -> list[str]:
    cpu = "".join(_num(v, 7, 2) for v in (r.server_cpu, r.database_cpu, r.generator_cpu,
                                          r.other_cpu))
    share = f"{r.rps / bare.rps:8.0%}" if bare and bare.rps else f"{'':>8}"
    lines = [f"{name:14}{r.rps:8.0f}{share}{r.p50:8.2f}{r.p95:8.2f}{r.p99:8.2f}"
             f"{r.max:8.2f}{r.requests:9d}{r.error_count:7d}"
             f"{_num(r.cpu_us_per_request, 11, 0)}{'':10}{cpu}"]
    if r.errors:
        lines.append(f"{'':14}errors: {r.errors}")
    if r.capped:
        lines.append(f"{'':14}{r.capped} appends turned into polls at the per-run cap")
    return lines


def targets_table(endpoints: dict[str, dict[str, Result]]) -> list[str]:
    """The issue's targets for the server (sqlite x1, durable defaults), each met or not."""
    names = list(endpoints)
    lines = [f"{'target (sqlite x1)':34}" + "".join(f"{n:>18}" for n in names)]

    def row(title: str, cell: Any) -> None:
        lines.append(f"{title:34}" + "".join(f"{cell(n):>18}" for n in names))

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    def share(n: str) -> str:
        ratio = endpoints[n][SERVER].rps / endpoints[n][BARE].rps
        return f"{ratio:.0%} {verdict(ratio >= CEILING_SHARE)}"

    def p99(n: str) -> str:
        value = endpoints[n][SERVER].p99
        return f"{value:.1f} ms {verdict(value < P99_MS)}"

    def rondevu(n: str) -> str:
        if n not in RONDEVU_IN_MEMORY:
            return "n/a"
        factor = endpoints[n][SERVER].rps / RONDEVU_IN_MEMORY[n]
        return f"{factor:.2f}x {verdict(factor >= RONDEVU_FACTOR)}"

    def cpu(n: str) -> str:
        server, bare = (endpoints[n][k].cpu_us_per_request for k in (SERVER, BARE))
        return f"{bare / server:.0%}" if server and bare else "n/a"

    row(f">= {CEILING_SHARE:.0%} of the ceiling's req/s", share)
    row(f"p99 < {P99_MS:g} ms", p99)
    row(f">= {RONDEVU_FACTOR}x rondevu in memory", rondevu)
    row("(by CPU per request: bare/server)", cpu)
    row("(rondevu in memory, req/s)", lambda n: str(RONDEVU_IN_MEMORY.get(n, "n/a")))
    return lines


def report(endpoints: dict[str, dict[str, Result]], scale: dict[str, Result], load: Load,
           generator: str, settings: dict[str, Any]) -> str:
    lines = [
        f"generator: {'wrk -t1 (C)' if generator == 'wrk' else 'aiohttp client process'}; "
        "every server faced the same generator, load and request shapes in this run",
        f"load: {load.connections} connections, closed loop; per phase {load.warmup_s:g} s "
        f"warm-up, then {load.rounds} x {load.duration_s:g} s measured per server, alternating; "
        "shown: the run with the median req/s",
        f"servers: python -m server, defaults (synchronous={settings.get('synchronous')}, "
        f"max_candidates={settings.get('max_candidates')}, "
        f"log_level={settings.get('log_level')}); bare aiohttp on the server's event loop "
        f"({runtime.LOOP_NAME}) and JSON codec ({jsoncodec.CODEC_NAME})",
        f"machine: {os.cpu_count()} cores, load average {_load_average()} at the end",
    ]
    for phase, results in endpoints.items():
        lines += ["", f"{phase}:", HEADER]
        for name, result in results.items():
            lines += _row(name, result, results[BARE])
    if scale:
        lines += ["", f"scale ({SCALE_PHASE} load, each once after a warm-up):", HEADER]
        bare = endpoints[SCALE_PHASE][BARE] if SCALE_PHASE in endpoints else None
        for name, result in scale.items():
            lines += _row(name, result, bare)
    lines += ["", *targets_table(endpoints)]
    everything = [r for results in endpoints.values() for r in results.values()]
    noisy = sum(1 for r in [*everything, *scale.values()] if (r.other_cpu or 0.0) > 0.25)
    if noisy:
        lines.append(f"other processes used over 0.25 cores during {noisy} of the runs: req/s "
                     "and latencies are disturbed, run again on a quiet machine")
    if generator == "aiohttp":
        lines.append("caveat: a Python client tops out near the bare app's speed or below it, so "
                     "the ratio overstates the server: install wrk (apt-get install -y wrk)")
    return "\n".join(lines)


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- running it --------------------------------------------------------------------------------

def pick_generator(wanted: str) -> str:
    if wanted in ("auto", "wrk") and shutil.which("wrk"):
        return "wrk"
    if wanted == "wrk":
        sys.exit("wrk is not installed: apt-get install -y wrk (Debian), "
                 "or use --generator aiohttp")
    log.warning("wrk is not installed (apt-get install -y wrk): falling back to an aiohttp "
                "client process, which competes with the server for the 2 cores")
    return "aiohttp"


@contextmanager
def server_target(backend: str, workers: int, cluster: PostgresCluster | None, tmp: Path
                  ) -> Iterator[tuple[Target, ServerProcess]]:
    """One server configuration on a fresh database."""
    name = label(backend, workers)
    env, database_pid = {}, None
    if backend == "postgres":
        assert cluster is not None
        env = {"SIGNALING_DSN": cluster.create_database(f"bench_{workers}")}
        database_pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    with ServerProcess(tmp / f"bench-{backend}-{workers}.db", backend=backend, cwd=ROOT, env=env,
                       extra_args=["--workers", str(workers)]) as server:
        yield Target(name, server.url, server.pid, database_pid), server


def measure_endpoints(bench: Bench, chosen: list[Phase], tmp: Path
                      ) -> tuple[dict[str, dict[str, Result]], dict[str, Any]]:
    """Each phase on the bare app and on sqlite x1, alternating, ``rounds`` times."""
    endpoints: dict[str, dict[str, Result]] = {}
    with ExitStack() as stack:
        url, pid = stack.enter_context(bare_process())
        bare = Target(BARE, url, pid)
        server, process = stack.enter_context(server_target("sqlite", 1, None, tmp))
        for phase in chosen:
            log.info("%s: preparing %d sessions", phase.name, phase.sessions)
            prepare(server.url, phase)
            runs: dict[str, list[Result]] = {BARE: [], SERVER: []}
            for target in (bare, server):
                bench.warm_up(target, phase)
            for round_ in range(bench.load.rounds):
                for target in (bare, server):
                    runs[target.name].append(bench.measure(target, phase, seed=2 + round_))
            endpoints[phase.name] = {name: median_run(found) for name, found in runs.items()}
        return endpoints, process.settings


def measure_scale(bench: Bench, mixed: Phase, backends: list[str], workers: list[int],
                  first: Result | None, tmp: Path) -> dict[str, Result]:
    """The mixed load on each backend and number of processes, each on a fresh database."""
    scale: dict[str, Result] = {}
    if first is not None:
        scale[SERVER] = first
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
                if label(backend, count) in scale:
                    continue
                with server_target(backend, count, cluster, tmp) as (target, _):
                    prepare(target.url, mixed)
                    bench.warm_up(target, mixed)
                    scale[target.name] = bench.measure(target, mixed, seed=2)
    finally:
        if cluster is not None:
            cluster.stop()
    return scale


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=200,
                        help="sessions of the poll phase (the mixed phase: five times as many, "
                             "the candidate phase ten times)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, discarded")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured runs per phase and server; the median is shown")
    parser.add_argument("--phases", default=",".join(phases(1)),
                        help="per-endpoint phases to measure (default: all)")
    parser.add_argument("--workers", default="1,2,4", metavar="N[,N...]",
                        help="server processes of the scale figure (default: 1,2,4; 1 alone "
                             "leaves the figure out)")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="backends of the scale figure (default: sqlite,postgres)")
    # Internal modes: the child processes this script starts.
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = phases(args.sessions)
    unknown = [name for name in args.phases.split(",") if name not in known]
    if unknown or args.rounds < 1:
        parser.error(f"--phases: unknown {', '.join(unknown)} (known: {', '.join(known)})"
                     if unknown else "--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = Load(args.connections, args.warmup, args.duration, args.rounds)
    known = phases(args.sessions)
    if args.bare_server:
        serve_bare()
        return 0
    if args.client:
        result = asyncio.run(_client(args.client, known[args.phase], load, args.seconds,
                                     args.seed))
        print(json.dumps(result))
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
    chosen = [known[name] for name in args.phases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        script = Path(tmp) / "mix.lua"
        script.write_text(wrk_script())
        bench = Bench(load, generator, script)
        endpoints, settings = measure_endpoints(bench, chosen, Path(tmp))
        scale: dict[str, Result] = {}
        if workers != [1] or backends != ["sqlite"]:
            first = endpoints[SCALE_PHASE][SERVER] if SCALE_PHASE in endpoints else None
            scale = measure_scale(bench, known[SCALE_PHASE], backends, workers, first, Path(tmp))
    print(report(endpoints, scale, load, generator, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
