"""One offerer and one answerer connecting, as two browsers running rondevu's client do.

The offerer sets its offer and gathers its candidates (``loadtests._gathering``). With
``--trickle on`` (the default) it posts the offer at once and sends each candidate as it is
gathered; the answerer's discovery timer finds the session on its next tick (by its code, or by
listing the topic), reads the offer, posts its answer and gathers and sends its own candidates
after it (the seed's race: the offerer's relay candidates still arrive after the answer). With
``--trickle off`` each peer waits for its gathering to complete and sends its candidates inside
its offer or answer, none through ``/answer``, as rondevu's own client did. Both poll until they
see everything the other side had acknowledged, or give up at the connection timeout.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from loadtests._browser import Trickle, discover, poll_until
from loadtests._gathering import Gathered, complete_s, gather
from loadtests._options import LoadOptions
from loadtests._peer import Peer
from loadtests._sdp import IceCredentials, session_description
from loadtests._tokens import TokenSource
from loadtests._user import SignalingUser


@dataclass(frozen=True)
class LocalDescription:
    """What one peer sends: its SDP, and the candidates it still has to trickle."""

    token: str
    sdp: str
    trickled: list[Gathered]


def local_description(options: LoadOptions, tokens: TokenSource, rng: random.Random, *,
                      answer: bool) -> LocalDescription:
    """Set a local description and gather: under ``--trickle off`` this waits (the peer's own
    greenlet) until gathering is complete and puts the candidates in the SDP."""
    ice = IceCredentials.random(rng)
    gathered = gather(options.candidates, ice, tokens, rng, options.time_scale)
    token = tokens.next()
    if options.trickle:
        return LocalDescription(token, session_description(token, ice, rng, answer=answer),
                                gathered)
    gevent.sleep(complete_s(gathered))
    sdp = session_description(token, ice, rng, answer=answer,
                              candidates=[candidate.line for candidate in gathered])
    return LocalDescription(token, sdp, [])


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
        gevent.sleep(options.discovery_phase(user.rng))
        if self.discover_by_list and discover(self.peer, self.topic, self.code,
                                              options.poll_interval_s, self.deadline) is None:
            return
        if poll_until(self.peer, self.code, "answerer", options.poll_interval_s, self.deadline,
                      lambda read: read["offer"] == self.offer_token, self.group) is None:
            return
        mine = local_description(options, user.tokens, user.rng, answer=True)
        self.answer_token = mine.token
        if not options.trickle:  # the offer carried every candidate; nothing is left to poll
            self.trickle = Trickle(self.peer, self.code, "answerer", [], self.group)
            self._post_answer(mine.sdp)
            self.done = self.answer_acked
            return
        self.group.add(gevent.spawn(self._post_answer, mine.sdp))
        self.trickle = Trickle(self.peer, self.code, "answerer", mine.trickled, self.group)
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
    options = user.options
    offerer, answerer_peer = user.peer("offerer"), user.peer("answerer")
    started = time.monotonic()
    offer = local_description(options, user.tokens, user.rng, answer=False)
    created = offerer.create(topic, user.name("peer"), offer.sdp, offer.token)
    user.backoff.after(created.ok)
    pairing = Pairing(created.session if created.ok else None, started)
    if pairing.code is None:
        return pairing
    deadline = user.deadline()
    with user.flight() as group:
        offer_trickle = Trickle(offerer, pairing.code, "offerer", offer.trickled, group)
        answerer = _Answerer(user, answerer_peer, pairing.code, topic, offer.token,
                             offer_trickle, deadline, group, discover_by_list)
        answering = gevent.spawn(answerer.run)
        group.add(answering)
        pairing.offerer_done = poll_until(offerer, pairing.code, "offerer",
                                          options.poll_interval_s, deadline,
                                          answerer.offerer_sees_all, group) is not None
        answering.join()
        group.join()
        pairing.answerer_done = answerer.done
    return pairing
