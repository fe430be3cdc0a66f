"""Handshake: the whole real flow at a realistic pace, for latency figures.

Offer, discovery through ``GET /{topic}/sessions``, answer, trickle, poll until both sides are
complete, leave. The time from the offer to both sides complete goes into Locust's statistics as
request type ``FLOW``, name ``handshake`` (a failure when the connection timed out). Between two
handshakes a user pauses 1 to 5 model seconds. Select with ``Handshake`` or ``--tags handshake``.
"""

from __future__ import annotations

from locust import tag, task

from loadtests._pairing import connect_pair
from loadtests._user import SignalingUser


class Handshake(SignalingUser):
    def pause(self) -> float:
        return self.rng.uniform(1.0, 5.0) * self.options.time_scale

    @tag("handshake")
    @task
    def handshake(self) -> None:
        pairing = connect_pair(self, self.name("lobby"), discover_by_list=True)
        if pairing.code is None:
            self.report_flow("handshake", pairing.started, "offer not created")
            return
        self.report_flow("handshake", pairing.started,
                         None if pairing.complete else "incomplete at the connection timeout")
        self.peer("offerer").leave(pairing.code)
