"""One offerer and one answerer connecting, as two browsers running rondevu's client do.

The offerer posts its offer and trickles its candidates; the answerer finds the session (by its
code, or by listing the topic), reads the offer, posts its answer while its own candidates
already trickle (the seed's race), and both poll until they see everything the other side had
acknowledged, or give up at the connection timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from loadtests._browser import Trickle, discover, poll_until
from loadtests._peer import Peer
from loadtests._sdp import IceCredentials, session_description
from loadtests._user import SignalingUser


@dataclass
class Pairing:
    """How one connection attempt went."""

    code: str | None
    started: float
    offerer_done: bool = False
    answerer_done: bool = False

    @property
    def complete(self) -> bool:
        return self.offerer_done and self.answerer_done


class _Answerer:
    """The answerer's half, run in its own greenlet."""

    def __init__(self, user: SignalingUser, peer: Peer, code: str, topic: str, offer_token: str,
                 offer_trickle: Trickle, deadline: float, group: Group, discover_by_list: bool
                 ) -> None:
        self.user, self.peer, self.code, self.topic = user, peer, code, topic
        self.offer_token, self.offer_trickle = offer_token, offer_trickle
        self.deadline, self.group, self.discover_by_list = deadline, group, discover_by_list
        self.answer_token: str | None = None
        self.answer_acked = False
        self.answer_settled = Event()
        self.trickle: Trickle | None = None
        self.done = False

    def run(self) -> None:
        options, user = self.user.options, self.user
        gevent.sleep(options.answer_delay(user.rng))
        if self.discover_by_list and discover(self.peer, self.topic, self.code,
                                              options.poll_interval_s, self.deadline) is None:
            return
        if poll_until(self.peer, self.code, "answerer", options.poll_interval_s, self.deadline,
                      lambda read: read["offer"] == self.offer_token, self.group) is None:
            return
        ice = IceCredentials.random(user.rng)
        self.answer_token = user.tokens.next()
        sdp = session_description(self.answer_token, ice, user.rng, answer=True)
        self.group.add(gevent.spawn(self._post_answer, sdp))
        self.trickle = Trickle(self.peer, self.code, "answerer", ice,
                               options.candidate_count(user.rng), options.gather_window_s,
                               user.tokens, user.rng, self.group)
        self.done = poll_until(
            self.peer, self.code, "answerer", options.poll_interval_s, self.deadline,
            lambda read: self.offer_trickle.all_seen_in(read["candidates"]), self.group,
        ) is not None

    def _post_answer(self, sdp: str) -> None:
        try:
            self.answer_acked = self.peer.answer(self.code, sdp, self.answer_token or "").ok
        finally:
            self.answer_settled.set()

    def offerer_sees_all(self, read: dict[str, Any]) -> bool:
        """The offerer's completion: the answer (ours, if it was acknowledged) and every
        acknowledged answerer candidate, once the answerer's gathering is over."""
        if read["answer"] is None or not self.answer_settled.is_set() or self.trickle is None:
            return False
        if self.answer_acked and read["answer"] != self.answer_token:
            return False
        return self.trickle.all_seen_in(read["candidates"])


def connect_pair(user: SignalingUser, topic: str, *, discover_by_list: bool) -> Pairing:
    """Run one offerer/answerer connection to the end; the session is left in place."""
    options, rng = user.options, user.rng
    offerer, answerer_peer = user.peer("offerer"), user.peer("answerer")
    started = time.monotonic()
    offer_token = user.tokens.next()
    ice = IceCredentials.random(rng)
    created = offerer.create(topic, user.name("peer"), session_description(offer_token, ice, rng),
                             offer_token)
    user.backoff.after(created.ok)
    pairing = Pairing(created.session if created.ok else None, started)
    if pairing.code is None:
        return pairing
    deadline = user.deadline()
    with user.flight() as group:
        offer_trickle = Trickle(offerer, pairing.code, "offerer", ice,
                                options.candidate_count(rng), options.gather_window_s,
                                user.tokens, rng, group)
        answerer = _Answerer(user, answerer_peer, pairing.code, topic, offer_token, offer_trickle,
                             deadline, group, discover_by_list)
        answering = gevent.spawn(answerer.run)
        group.add(answering)
        pairing.offerer_done = poll_until(offerer, pairing.code, "offerer",
                                          options.poll_interval_s, deadline,
                                          answerer.offerer_sees_all, group) is not None
        answering.join()
        group.join()
        pairing.answerer_done = answerer.done
    return pairing
