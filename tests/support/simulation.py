"""Histories of a simulated *correct* store, and single faults to inject into them.

The checker's tests and its benchmark need histories whose truth is known. Here every session is
played against a linearizable, write-once store: each operation takes effect at one instant
between its invocation and its completion, reads return the state at that instant, a second
different answer is refused with 409, indeterminate writes take effect or not at random, and
a left session answers 404. A correct checker must find every such history consistent; each
injector then breaks exactly one guarantee and says which record it touched, so a test can
demand that the checker names it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MS = 1_000_000
SETTLE_NS = 2_000 * MS
HOST_CLOCKS = {"sim-a:boot1": 10**12, "sim-b:boot7": 7 * 10**12 + 123_456_789}


@dataclass(frozen=True)
class SimSettings:
    """Shape of the simulated load (defaults: a small, busy run)."""

    polls: float = 8
    """Mean polls per client during the load (the benchmark raises it to reach its size)."""
    two_hosts: bool = False
    """Answerers on a second host whose monotonic clock is unrelated to the first's."""
    session_ttl_ms: int = 300_000
    indeterminate: float = 0.05
    second_answerer: float = 0.15
    leave: float = 0.05


def meta_for(run: str, settings: SimSettings, backend: str = "sim") -> dict[str, Any]:
    """A ``meta.json`` as the load tests write it, for a simulated run."""
    return {
        "format": 2, "run": run, "backend": backend, "target": "simulated://correct-store",
        "scenarios": ["simulated"], "users": 0, "duration_s": 0, "settle_s": SETTLE_NS / 1e9,
        "started": "2026-11-26T00:00:00Z",
        "server": {"session_ttl": settings.session_ttl_ms, "time_scale": 1.0},
    }


def simulate(seed: int, sessions: int, settings: SimSettings = SimSettings()
             ) -> Iterator[list[dict[str, Any]]]:
    """Yield each session's records (plus a few topic listings), completion order within one."""
    rng = random.Random(seed)
    span = max(1, sessions) * 5 * MS
    for number in range(sessions):
        yield _Session(rng, seed, number, rng.randrange(span), settings).play()
        if number % 10 == 0:
            yield [_listing(rng, number)]


def write_run(folder: Path, meta: dict[str, Any], batches: Iterable[list[dict[str, Any]]]
              ) -> int:
    """Write a run folder: meta.json and one history file per (host, pid); returns records."""
    history = folder / "history"
    history.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    handles: dict[str, Any] = {}
    count = 0
    try:
        for batch in batches:
            for record in batch:
                host, pid = record["host"].split(":")[0], record["client"].split("/")[1]
                name = f"{host}-{pid}.jsonl"
                handle = handles.get(name)
                if handle is None:
                    handle = handles[name] = (history / name).open("w", encoding="utf-8")
                handle.write(json.dumps(record, separators=(",", ":")) + "\n")
                count += 1
    finally:
        for handle in handles.values():
            handle.close()
    return count


class _Session:
    """One session played against the correct store; ``play`` returns its records."""

    def __init__(self, rng: random.Random, seed: int, number: int, start: int,
                 settings: SimSettings) -> None:
        self.rng = rng
        self.settings = settings
        self.code = f"{seed:08x}-{number:04x}-4000-8000-{number * 7919 % 10**12:012d}"
        self.tag = f"{seed:x}s{number:x}"
        self.start = start
        self.ops: list[dict[str, Any]] = []
        self.hosts = list(HOST_CLOCKS)
        pid = 100 + number % 4
        answer_host = self.hosts[1] if settings.two_hosts else self.hosts[0]
        self.offerer = (self.hosts[0], f"{self.hosts[0].split(':')[0]}/{pid}/u{number}/offerer")
        self.answerers = [
            (answer_host, f"{answer_host.split(':')[0]}/{pid + 10}/u{number}/answerer"),
            (answer_host, f"{answer_host.split(':')[0]}/{pid + 20}/v{number}/answerer"),
        ]

    def play(self) -> list[dict[str, Any]]:
        rng = self.rng
        end = self._offerer_timeline()
        end = max(end, self._answerer_timeline(0, self.start + rng.randrange(50, 400) * MS))
        if rng.random() < self.settings.second_answerer:
            end = max(end, self._answerer_timeline(1, self.start + rng.randrange(50, 900) * MS,
                                                   candidates=False))
        final = end + SETTLE_NS
        self._op(self.offerer, "poll", "offerer", final, final=True)
        self._op(self.answerers[0], "poll", "answerer", final + 3 * MS, final=True)
        return self._apply()

    def _offerer_timeline(self) -> int:
        rng, t = self.rng, self.start
        t = self._op(self.offerer, "create", None, t, value=f"o{self.tag}", certain=True)
        steps = ["candidate"] * rng.randrange(2, 7) + ["poll"] * self._polls()
        rng.shuffle(steps)
        for number, step in enumerate(steps):
            t += rng.randrange(0, 150) * MS
            if step == "candidate":
                t = self._op(self.offerer, "candidate", "offerer", t, value=f"c{self.tag}o{number}")
            else:
                t = self._op(self.offerer, "poll", "offerer", t)
        if rng.random() < self.settings.leave:
            t = self._op(self.offerer, "leave", None, t + MS)
        return t

    def _answerer_timeline(self, which: int, t: int, candidates: bool = True) -> int:
        rng, client = self.rng, self.answerers[which]
        t = self._op(client, "poll", "answerer", t)
        t = self._op(client, "answer", "answerer", t + MS, value=f"a{self.tag}n{which}")
        steps = (["candidate"] * rng.randrange(1, 7) if candidates else [])
        steps += ["poll"] * self._polls()
        rng.shuffle(steps)
        for number, step in enumerate(steps):
            t += rng.randrange(0, 150) * MS
            if step == "candidate":
                t = self._op(client, "candidate", "answerer", t,
                             value=f"c{self.tag}a{which}x{number}")
            else:
                t = self._op(client, "poll", "answerer", t)
        return t

    def _polls(self) -> int:
        whole = int(self.settings.polls)
        return whole + (self.rng.random() < self.settings.polls - whole)

    def _op(self, who: tuple[str, str], op: str, side: str | None, t0: int,
            value: str | None = None, final: bool = False, certain: bool = False) -> int:
        """Plan one operation from ``t0``; returns its completion time."""
        rng = self.rng
        t1 = t0 + rng.randrange(1, 40) * MS + rng.randrange(MS)
        unknown = not certain and not final and rng.random() < self.settings.indeterminate
        effect = rng.randrange(t0 + 1, t1)
        self.ops.append({
            "op": op, "session": self.code, "side": side, "client": who[1], "value": value,
            "t0": t0, "t1": t1, "host": who[0], "final": final,
            "_at": effect, "_unknown": unknown, "_applies": not unknown or rng.random() < 0.5,
        })
        return t1

    def _apply(self) -> list[dict[str, Any]]:
        """Run the planned operations in the order they take effect against the correct store."""
        state: dict[str, Any] = {"exists": False, "answer": None, "offerer": [], "answerer": []}
        for op in sorted(self.ops, key=lambda item: item["_at"]):
            self._outcome(op, state)
        records = []
        for op in sorted(self.ops, key=lambda item: item["t1"]):
            unknown = op.pop("_unknown")
            del op["_at"], op["_applies"]
            if unknown:
                op.update(type="info", status=None, error="timeout")
                op.pop("read", None)
            offset = HOST_CLOCKS[op["host"]]
            op["t0"] += offset
            op["t1"] += offset
            if op["side"] is None:
                del op["side"]
            if op["value"] is None:
                del op["value"]
            records.append(op)
        return records

    def _outcome(self, op: dict[str, Any], state: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "create":
            state["exists"] = True
            op.update(type="ok", status=200)
            state["offer"] = op["value"]
            return
        if not state["exists"]:
            op.update(type="fail", status=404, error="session not found")
            return
        op.update(type="ok", status=200)
        if kind == "poll":
            if op["side"] == "offerer":
                op["read"] = {"answer": state["answer"], "candidates": list(state["answerer"])}
            else:
                op["read"] = {"offer": state["offer"], "candidates": list(state["offerer"])}
        elif not op["_applies"]:
            return
        elif kind == "candidate":
            state[op["side"]].append(op["value"])
        elif kind == "answer":
            if state["answer"] is None:
                state["answer"] = op["value"]
            elif state["answer"] != op["value"]:
                op.update(type="fail", status=409, error="session already answered")
        elif kind == "leave":
            state["exists"] = False


def _listing(rng: random.Random, number: int) -> dict[str, Any]:
    t0 = HOST_CLOCKS["sim-a:boot1"] + number * 5 * MS
    return {"op": "list", "session": None, "client": f"sim-a/99/lister{number}/offerer",
            "t0": t0, "t1": t0 + rng.randrange(1, 9) * MS, "host": "sim-a:boot1",
            "status": 200, "type": "ok", "read": {"sessions": []}, "final": False}
