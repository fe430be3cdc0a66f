"""Answer race: several answerers find the same offer and race to answer it.

The offerer creates a session in a topic of its own; ``--answerers`` answerers list the topic on
their discovery timer (one phase for all, so they find it together) until they find it, then
all post their answers at once (an answer carries no candidates here, whatever ``--trickle``),
and every answerer polls (the offerer's side, where the answer is) until it learns which answer
won. A consistent server accepts one answer
and refuses the others with 409, which is counted as a Locust success here (the protocol working);
the history records it as ``fail``. Select with ``AnswerRace`` or ``--tags race``.
"""

from __future__ import annotations

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import tag, task

from loadtests._browser import discover, poll_until
from loadtests._peer import Peer
from loadtests._sdp import IceCredentials, session_description
from loadtests._user import SignalingUser


class _StartingLine:
    """Releases the answerers together once each has found the offer or given up."""

    def __init__(self, runners: int) -> None:
        self.waiting = runners
        self.go = Event()

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.go.set()


class AnswerRace(SignalingUser):
    @tag("race")
    @task
    def race(self) -> None:
        topic, rng = self.name("race"), self.rng
        token = self.tokens.next()
        sdp = session_description(token, IceCredentials.random(rng), rng)
        created = self.peer("offerer").create(topic, self.name("peer"), sdp, token)
        self.backoff.after(created.ok and created.session is not None)
        if not created.ok or created.session is None:
            return
        code, deadline = created.session, self.deadline()
        line = _StartingLine(self.options.answerers)
        delay = self.options.discovery_phase(rng)
        with self.flight() as group:
            for n in range(1, self.options.answerers + 1):
                group.add(gevent.spawn(self._answer, self.peer(f"answerer-{n}"), topic, code,
                                       delay, deadline, line, group))
            group.add(gevent.spawn(self._learn_winner, self.peer("offerer"), code, deadline,
                                   group))
            group.join()

    def _answer(self, peer: Peer, topic: str, code: str, delay: float, deadline: float,
                line: _StartingLine, group: Group) -> None:
        try:
            gevent.sleep(delay)
            found = discover(peer, topic, code, self.options.poll_interval_s, deadline)
        finally:
            line.arrive()
        if found is None:
            return
        line.go.wait()
        token = self.tokens.next()
        sdp = session_description(token, IceCredentials.random(self.rng), self.rng, answer=True)
        peer.answer(code, sdp, token, expected=(200, 409))
        self._learn_winner(peer, code, deadline, group)

    def _learn_winner(self, peer: Peer, code: str, deadline: float, group: Group) -> None:
        poll_until(peer, code, "offerer", self.options.poll_interval_s, deadline,
                   lambda read: read["answer"] is not None, group)
