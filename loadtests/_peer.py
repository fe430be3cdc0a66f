"""A browser peer as the history sees it: each API call is one recorded operation.

A peer has a role (``offerer``, ``answerer``, ``answerer-2``). A browser sends several requests of
one role at once (fire-and-forget candidates, a poll timer that does not wait), while the history
requires one client's operations never to overlap. So each request takes a free *lane*, a logical
client named ``<role>`` or ``<role>.<n>``; a lane is reused only after its previous operation
completed, and never after an ``info`` (that operation may still be taking effect).

An operation whose route the target lacks (``Transport.unsupported``) is not an operation on the
store: it is neither sent again nor recorded, and the run's meta.json names it instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from loadtests._history import INTERRUPTED, READS, Sink, outcome_type
from loadtests._identity import client_name, host_id
from loadtests._tokens import answerer_view, offerer_view
from loadtests._transport import Reply, Transport


@dataclass
class PeerContext:
    """What every peer of one process shares: where to send, where to record, what was touched."""

    transport: Transport
    history: Sink
    sessions: dict[str, str]  # code -> scenario, for the final reads
    scenario: str
    host: str = field(default_factory=host_id)


@dataclass(frozen=True, slots=True)
class Result:
    """An operation's outcome for the scenario: its history type, status and what it read."""

    type: str
    status: int | None
    read: Any = None
    session: str | None = None
    unsupported: bool = False
    """The target has no route for it: nothing was done."""

    @property
    def ok(self) -> bool:
        return self.type == "ok"

    @property
    def gone(self) -> bool:
        """The session answered 404: left, expired or never there."""
        return self.status == 404 and not self.unsupported


UNSUPPORTED = Result("fail", None, unsupported=True)


class Lanes:
    """Hands out non-overlapping logical-client names for one role."""

    def __init__(self, user: int, role: str) -> None:
        self._user, self._role = user, role
        self._free: list[str] = []
        self._made = 0

    def acquire(self) -> str:
        if self._free:
            return self._free.pop()
        self._made += 1
        suffix = "" if self._made == 1 else f".{self._made}"
        return client_name(self._user, self._role + suffix)

    def release(self, name: str) -> None:
        self._free.append(name)


class Peer:
    """One role of one Locust user; its methods are the API's operations.

    ``target`` is the server this browser talks to when the run spreads peers over several
    (``--hosts``): its base URL, recorded with every operation; empty for Locust's ``--host``.
    """

    def __init__(self, context: PeerContext, user: int, role: str, target: str = "") -> None:
        self.context = context
        self.role = role
        self.target = target
        self.lanes = Lanes(user, role)
        # The X-Client-Id: one per browser, shared by its lanes, because one browser's requests
        # all reach the same KV edge (its nearest location), whatever lane records them.
        self.browser = client_name(user, role)

    def _perform(self, op: str, method: str, path: str, body: Any, *, session: str | None,
                 side: str | None = None, value: str | None = None,
                 expected: Collection[int] = (200,),
                 read: Callable[[Any], Any] | None = None) -> tuple[Result, Reply | None]:
        context = self.context
        if op in context.transport.unsupported:
            return UNSUPPORTED, None
        client = self.lanes.acquire()
        record: dict[str, Any] = {"op": op, "session": session, "side": side, "client": client,
                                  "value": value}
        t0 = time.monotonic_ns()
        try:
            reply = context.transport.exchange(method, self.target + path, body,
                                               client=self.browser, name=op, expected=expected,
                                               read=op in READS)
        except BaseException as exc:  # the load stopped under us: the write may still land
            record.update(t0=t0, t1=time.monotonic_ns(), host=context.host, status=None,
                          type="info", error=f"{INTERRUPTED}: {type(exc).__name__}")
            self._record(record)
            raise
        if reply.unsupported:
            self.lanes.release(client)
            return UNSUPPORTED, None
        kind = outcome_type(reply.status)
        seen = None
        if kind == "ok" and read is not None:
            try:
                seen = read(reply.body)
            except (AttributeError, LookupError, TypeError, ValueError) as exc:
                kind, reply = "info", Reply(reply.status, reply.body,
                                            f"unreadable body: {exc}", reply.server_ms,
                                            reply.t0, reply.t1)
        if op == "create" and kind == "ok":
            session = reply.body.get("code") if isinstance(reply.body, dict) else None
            record["session"] = session
        record.update(t0=reply.t0, t1=reply.t1, host=context.host, status=reply.status,
                      type=kind)
        if seen is not None:
            record["read"] = seen
        if kind != "ok":
            record["error"] = reply.error or f"HTTP {reply.status}"
        if reply.server_ms is not None:
            record["server_ms"] = reply.server_ms
        self._record(record)
        if kind != "info":
            self.lanes.release(client)
        return Result(kind, reply.status, seen, record["session"]), reply

    def _record(self, record: dict[str, Any]) -> None:
        record["scenario"] = self.context.scenario
        if self.target:
            record["target"] = self.target
        if record["session"] is not None and record["op"] != "list":
            self.context.sessions.setdefault(record["session"], self.context.scenario)
        self.context.history.write(record)

    def create(self, topic: str, peer_id: str, offer: str, token: str) -> Result:
        result, _ = self._perform("create", "POST", f"/{topic}/offer",
                                  {"peerId": peer_id, "offer": offer}, session=None, value=token)
        return result

    def answer(self, code: str, sdp: str, token: str, *, expected: Collection[int] = (200,)
               ) -> Result:
        return self._perform("answer", "POST", "/answer",
                             {"code": code, "side": "answerer", "answer": sdp},
                             session=code, side="answerer", value=token, expected=expected)[0]

    def candidate(self, code: str, side: str, candidate: str, token: str) -> Result:
        return self._perform("candidate", "POST", "/answer",
                             {"code": code, "side": side, "candidate": candidate},
                             session=code, side=side, value=token)[0]

    def poll(self, code: str, side: str) -> Result:
        view = offerer_view if side == "offerer" else answerer_view
        return self._perform("poll", "POST", "/poll", {"code": code, "side": side},
                             session=code, side=side, read=view)[0]

    def list(self, topic: str) -> tuple[Result, list[dict[str, Any]]]:
        """The topic's unanswered sessions: the recorded result and the sessions themselves."""
        result, reply = self._perform(
            "list", "GET", f"/{topic}/sessions", None, session=None,
            read=lambda body: {"sessions": [s["code"] for s in body["sessions"]]})
        found = reply.body["sessions"] if result.ok and reply is not None else []
        return result, found

    def leave(self, code: str) -> Result:
        return self._perform("leave", "POST", "/leave", {"code": code}, session=code)[0]
