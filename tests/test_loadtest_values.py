"""The load tests' values and options, without Locust: tokens, SDP, candidates, time scaling.

These modules import no Locust, so they are tested in the main pytest process.
"""

from __future__ import annotations

import argparse
import json
import random

import pytest

from loadtests import _tokens
from loadtests._options import load_options, parse_range
from loadtests._sdp import (
    IceCredentials,
    candidate_kind,
    ice_candidate,
    session_description,
)
from loadtests._tokens import (
    TokenSource,
    answerer_view,
    candidate_token,
    offerer_view,
    sdp_token,
)


def test_tokens_are_19_unique_digits_and_change_with_the_pid(monkeypatch):
    source = TokenSource()
    first = [source.next() for _ in range(5000)]
    assert len(set(first)) == 5000
    assert all(len(t) == 19 and t.isdigit() for t in first)
    monkeypatch.setattr(_tokens.os, "getpid", lambda: 4242)  # as in a forked worker
    forked = source.next()
    assert forked not in first and forked[5:12] == "0004242"


def test_sdp_carries_its_token_in_the_origin_line():
    rng = random.Random(7)
    offer = session_description("1234567890123456789", IceCredentials.random(rng), rng)
    answer = session_description("42", IceCredentials.random(rng), rng, answer=True)
    assert "\r\no=- 1234567890123456789 2 IN IP4 127.0.0.1\r\n" in offer
    assert 4000 < len(offer) < 8000 and 2500 < len(answer) < len(offer)
    assert sdp_token(offer) == "1234567890123456789" and sdp_token(answer) == "42"
    assert sdp_token("v=0\r\ns=-\r\n") is None and sdp_token(None) is None


def test_candidates_are_browser_json_whose_foundation_is_the_token():
    rng = random.Random(3)
    ice = IceCredentials.random(rng)
    kinds = [candidate_kind(i, 12) for i in range(12)]
    assert kinds[0] == "host" and kinds[-1] == "relay" and "srflx" in kinds
    value = ice_candidate("777", ice, "srflx", 7, rng)
    parsed = json.loads(value)
    assert set(parsed) == {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}
    assert parsed["candidate"].startswith("candidate:777 1 udp ")
    assert " typ srflx " in parsed["candidate"] and parsed["usernameFragment"] == ice.ufrag
    assert candidate_token(value) == "777"
    assert candidate_token("candidate:abc 1 udp 1 1.2.3.4 5 typ host") == "abc"
    assert candidate_token('{"candidate": 5}') is None and candidate_token("{broken") is None


def test_reads_record_tokens_and_unknown_values_whole():
    rng = random.Random(1)
    ice = IceCredentials.random(rng)
    body = {"answer": session_description("55", ice, rng, answer=True),
            "answerCandidates": [ice_candidate("9", ice, "host", 0, rng), "garbage"]}
    assert offerer_view(body) == {"answer": "55", "candidates": ["9", "garbage"]}
    assert offerer_view({"answer": None, "answerCandidates": []}) == {"answer": None,
                                                                       "candidates": []}
    assert answerer_view({"offer": "not sdp", "offerCandidates": []}) == {"offer": "not sdp",
                                                                          "candidates": []}
    # Non-string values become canonical JSON strings, which the checker can compare.
    assert answerer_view({"offer": "x", "offerCandidates": [{"b": 1, "a": 2}]})["candidates"] == [
        '{"a": 2, "b": 1}']


def test_candidate_ranges():
    assert parse_range("12") == (12, 12) and parse_range("4-24") == (4, 24)
    for bad in ("0", "5-2", "x", "3-y"):
        with pytest.raises(ValueError, match="--candidates"):
            parse_range(bad)
    assert parse_range("0-500", "--answer-delay", 0) == (0, 500)
    with pytest.raises(ValueError, match="--answer-delay: '-5' is not N or LO-HI"):
        parse_range("-5", "--answer-delay", 0)


def test_time_scale_multiplies_every_client_timing():
    parsed = argparse.Namespace(time_scale="0.1", poll_interval=1000.0, gather_window=2000.0,
                                connection_timeout=30.0, settle="3", candidates="", run_id="")
    options = load_options(parsed)
    assert options.poll_interval_s == pytest.approx(0.1)
    assert options.gather_window_s == pytest.approx(0.2)
    assert options.connection_timeout_s == pytest.approx(3.0)
    assert options.settle_s == pytest.approx(0.3)
    assert options.candidates == (4, 24) and options.run_id is None  # blanks are defaults
    assert options.answer_delay_s == pytest.approx((0.1, 0.2))
    assert load_options(None).settle_s == 2.0
    with pytest.raises(ValueError, match="time-scale"):
        load_options(argparse.Namespace(time_scale=0))
