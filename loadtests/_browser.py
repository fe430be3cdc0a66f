"""What the rondevu browser client did between API calls: trickle candidates and poll on a timer.

These two habits are what made the races real (``docs/api.md``): every gathered candidate is sent the
moment it is gathered, without waiting for the previous one, and each peer polls on a fixed
interval with a timer that does not wait for the previous poll. Every greenlet started here joins
the caller's ``Group``, so stopping the user stops them (their operations are recorded ``info``).

And the habits that keep a client from hammering a store that is down: a peer stops polling a
session that answers 404 (left, expired, or never there), and an offer that could not be posted
is tried again only after a back-off (:class:`Backoff`), as an application would, not at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from gevent.pool import Group

from loadtests._gathering import Gathered
from loadtests._peer import Peer


class Trickle:
    """One side's candidates, each sent at its gathering time, fire-and-forget.

    ``gathered`` (``loadtests._gathering``) is what to send; empty when the candidates travel
    inside the SDP (``--trickle off``), and then there is nothing to wait for.
    """

    def __init__(self, peer: Peer, code: str, side: str, gathered: Sequence[Gathered],
                 group: Group) -> None:
        self.acked: list[str] = []
        self.done = Event()
        self._pending = len(gathered)
        if not gathered:
            self.done.set()
        for candidate in gathered:
            group.add(gevent.spawn_later(candidate.at_s, self._send, peer, code, side,
                                         candidate))

    def _send(self, peer: Peer, code: str, side: str, candidate: Gathered) -> None:
        try:
            if peer.candidate(code, side, candidate.value, candidate.token).ok:
                self.acked.append(candidate.token)
        finally:
            self._pending -= 1
            if self._pending == 0:
                self.done.set()

    def all_seen_in(self, candidates: list[Any]) -> bool:
        """Whether gathering is over and a read shows every candidate the server acknowledged."""
        return self.done.is_set() and set(self.acked) <= set(candidates)


class Backoff:
    """How long a client waits after an offer it could not post: the poll interval, doubled
    after each failure in a row up to ``longest_s``, with jitter (half to all of it) so that
    clients failing together do not retry together; a success starts again from the first."""

    def __init__(self, first_s: float, longest_s: float, rng: random.Random) -> None:
        self.first_s, self.longest_s, self.rng = first_s, max(longest_s, first_s), rng
        self.failures = 0

    def after(self, ok: bool) -> None:
        """Note an attempt's outcome; after a failure, wait before the next attempt."""
        if ok:
            self.failures = 0
            return
        delay = min(self.first_s * 2 ** self.failures, self.longest_s)
        self.failures += 1
        gevent.sleep(delay * self.rng.uniform(0.5, 1.0))


def poll_until(peer: Peer, code: str, side: str, interval_s: float, deadline: float,
               satisfied: Callable[[Any], bool], group: Group) -> Any | None:
    """Poll every ``interval_s`` (not waiting for the previous poll) until a read satisfies.

    Returns that read, or None at the ``deadline`` (``time.monotonic()``) or once a poll answers
    404 (the session is gone: polling it on would only load the store). Polls still in flight
    when it is found are waited for, so the peer's last operations complete normally.
    """
    found: AsyncResult = AsyncResult()
    flying: list[gevent.Greenlet] = []

    def one() -> None:
        result = peer.poll(code, side)
        if found.ready():
            return
        if result.ok and satisfied(result.read):
            found.set(result.read)
        elif result.gone or result.unsupported:
            found.set(None)

    while not found.ready():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        flying = [g for g in flying if not g.dead]
        greenlet = gevent.spawn(one)
        group.add(greenlet)
        flying.append(greenlet)
        found.wait(timeout=min(interval_s, left))
    gevent.joinall(flying)
    return found.get() if found.ready() else None  # None: gone, or the deadline passed


def discover(peer: Peer, topic: str, code: str, interval_s: float, deadline: float
             ) -> dict[str, Any] | None:
    """List ``topic`` every ``interval_s`` until the session ``code`` shows up (or the deadline)."""
    while True:
        result, sessions = peer.list(topic)
        if result.unsupported:
            return None
        for session in sessions:
            if session.get("code") == code:
                return session
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        gevent.sleep(min(interval_s, left))
