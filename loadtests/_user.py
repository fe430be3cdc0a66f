"""The base of every scenario: a Locust user holding the logical peers of one scenario instance.

A scenario needs several browsers at once (an offerer, one or more answerers), so one Locust user
plays all of them, each as its own ``Peer`` with its own client names and ``X-Client-Id``. The
user's HTTP client (``FastHttpUser``) is shared; its pool allows the concurrent requests a
browser makes while trickling.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from typing import Any

from gevent.pool import Group
import gevent
from locust import FastHttpUser

from loadtests import _lifecycle  # noqa: F401  (registers the options and the event hooks)
from loadtests._browser import Backoff
from loadtests._peer import Peer, PeerContext
from loadtests._recording import recording_for
from loadtests._transport import Transport


class SignalingUser(FastHttpUser):
    """Shared plumbing; the scenarios subclass it and define one tagged task each."""

    abstract = True
    concurrency = 64  # connections per user: a trickle burst plus overlapping polls

    def __init__(self, environment: Any) -> None:
        recording = recording_for(environment)
        timeout = max(recording.options.connection_timeout_s, 1.0)
        self.network_timeout = self.connection_timeout = timeout
        super().__init__(environment)
        self.recording = recording
        self.options = recording.options
        self.tokens = recording.tokens
        self.number = recording.next_user()
        self.rng = random.Random()
        self.peer_context = PeerContext(
            Transport(self.client, self.options.origin, recording.unsupported),
            recording.history, recording.sessions, type(self).__name__)
        self.backoff = Backoff(self.options.poll_interval_s, self.options.connection_timeout_s,
                               self.rng)
        """Every scenario calls ``backoff.after`` with how its create went."""
        self._peers: dict[str, Peer] = {}
        self._next_session = 0.0
        """With ``--pacing``: when (``time.monotonic``) the current session was due to start."""

    def on_start(self) -> None:
        """With ``--pacing``, wait a random part of one pacing interval first: Locust starts
        users in bursts (all of one second's at once), and users that started together would
        start their sessions together ever after; at random phases, sessions start evenly."""
        if self.options.pacing_s is not None:
            gevent.sleep(self.rng.uniform(0.0, self.options.pacing_s))
            self._next_session = time.monotonic()

    def wait_time(self) -> float:
        """Before this user's next session: with ``--pacing``, until one pacing interval after
        its last session was due (at once if that is past), so sessions start at a fixed rate
        whatever the store's latency (an open loop, as Locust's ``constant_pacing``, which
        would keep the bursts of :meth:`on_start`), and every store faces the same load; else
        the scenario's own :meth:`pause`."""
        if self.options.pacing_s is None:
            return self.pause()
        now = time.monotonic()
        self._next_session = max(self._next_session + self.options.pacing_s, now)
        return self._next_session - now

    def pause(self) -> float:
        """Wall seconds a scenario waits after a session before its next one, without
        ``--pacing``: none (a closed loop)."""
        return 0.0

    def peer(self, role: str) -> Peer:
        """The peer playing ``role``; kept for the user's life so retired lanes stay retired.

        With several ``--hosts``, each new peer of a user talks to the next server in turn, so
        an offerer and its answerer are on different servers (from user to user the turn
        starts one further on)."""
        if role not in self._peers:
            target = self.options.target(self.number + len(self._peers))
            self._peers[role] = Peer(self.peer_context, self.number, role, target)
        return self._peers[role]

    def deadline(self) -> float:
        """When a peer starting now gives up (the browser's connection timeout)."""
        return time.monotonic() + self.options.connection_timeout_s

    def name(self, kind: str) -> str:
        """A name unique in the run (topics, peer ids), from a fresh token."""
        return f"{kind}-{self.tokens.next()}"

    @contextlib.contextmanager
    def flight(self) -> Iterator[Group]:
        """The greenlets of one scenario instance; killed (their requests recorded ``info``)
        if the instance ends early, e.g. because Locust stops the user."""
        group = Group()
        try:
            yield group
        finally:
            group.kill(block=True)

    def report_flow(self, name: str, started: float, error: str | None) -> None:
        """Put a whole flow's duration in Locust's statistics, as request type ``FLOW``."""
        self.environment.events.request.fire(
            request_type="FLOW", name=name, response_time=(time.monotonic() - started) * 1000,
            response_length=0, exception=Exception(error) if error else None, context={},
        )
