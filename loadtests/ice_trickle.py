"""Ice trickle: the seed's race between an answer and both sides' candidates.

An offerer creates a session; its answerer (a second browser, its own ``X-Client-Id``) reads the
offer by the code and posts its answer while both sides trickle candidates concurrently, then both
poll until they see everything the other acknowledged. Select with ``IceTrickle`` or
``--tags trickle``.
"""

from __future__ import annotations

from locust import tag, task

from loadtests._pairing import connect_pair
from loadtests._user import SignalingUser


class IceTrickle(SignalingUser):
    @tag("trickle")
    @task
    def trickle(self) -> None:
        connect_pair(self, self.name("trickle"), discover_by_list=False)
