"""The recorder's parts that a short run does not reliably reach: interrupted operations, tag
selection, Server-Timing, the settle default for the KV model."""

from __future__ import annotations

import argparse
import json

import gevent
import pytest
from locust.env import Environment

from loadtests._history import HistoryFile
from loadtests._meta import default_settle_model_s
from loadtests._peer import Peer, PeerContext
from loadtests._selection import select_by_tags
from loadtests._transport import server_ms
from loadtests.answer_race import AnswerRace
from loadtests.handshake import Handshake
from loadtests.ice_trickle import IceTrickle


class _Hanging:
    """A transport whose requests never complete."""

    unsupported: dict[str, str] = {}

    def exchange(self, *args, **kwargs):
        gevent.sleep(60)


def test_an_interrupted_operation_is_recorded_info_and_its_lane_retired(tmp_path):
    history = HistoryFile(tmp_path / "h.jsonl")
    peer = Peer(PeerContext(_Hanging(), history, {}, "IceTrickle", host="h:b"), 7, "offerer")
    flying = gevent.spawn(peer.candidate, "code-1", "offerer", "{}", "123")
    gevent.sleep(0.01)
    flying.kill(block=True)
    history.close()
    [record] = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert record["type"] == "info" and record["status"] is None
    assert record["error"] == "interrupted: GreenletExit" and record["value"] == "123"
    assert record["client"].endswith("/7/offerer") and record["t0"] <= record["t1"]
    assert peer.lanes.acquire().endswith("/7/offerer.2")  # the interrupted lane is not reused


@pytest.mark.parametrize("tags, exclude, expected", [
    (["race"], None, ["AnswerRace"]),
    (["trickle", "handshake"], None, ["Handshake", "IceTrickle"]),
    (None, ["race"], ["Handshake", "IceTrickle"]),
    (None, None, ["AnswerRace", "Handshake", "IceTrickle"]),
])
def test_tags_select_whole_scenarios(tags, exclude, expected):
    environment = Environment(user_classes=[AnswerRace, Handshake, IceTrickle],
                              parsed_options=argparse.Namespace(tags=tags, exclude_tags=exclude))
    select_by_tags(environment)
    assert sorted(cls.__name__ for cls in environment.user_classes) == expected


def test_server_timing():
    assert server_ms("app;dur=1.25") == 1.25
    assert server_ms("db;dur=3, app;desc=x;dur=0.5") == 0.5
    assert server_ms(None) is None and server_ms("db;dur=2") is None


def test_settle_default_covers_the_kv_cache_in_wall_time():
    kv = {"backend": "kv", "settings": {"time_scale": 0.1, "kv": {"cache_ttl": 60.0}}}
    assert default_settle_model_s(kv, 0.1) == pytest.approx(62.0)   # 6.2 wall seconds
    assert default_settle_model_s(kv, 1.0) == pytest.approx(8.0)    # 8 wall seconds
    assert default_settle_model_s({"backend": "sqlite"}, 0.1) == 2.0
    # A target that reports nothing: the bound on the rounds that wait for two to agree.
    assert default_settle_model_s(None, 1.0) == 30.0
