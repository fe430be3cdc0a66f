"""The load tests' values and options, without Locust: tokens, SDP, candidates, time scaling.

These modules import no Locust, so they are tested in the main pytest process.
"""

from __future__ import annotations

import argparse
import json
import random

import pytest

from loadtests import _tokens
from loadtests._gathering import DELAY_MS, KINDS, complete_s, gather
from loadtests._options import load_options, parse_candidates, parse_range
from loadtests._sdp import (
    IceCredentials,
    candidate_line,
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
    value = ice_candidate(candidate_line("777", ice, "srflx", 7, rng), ice)
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
            "answerCandidates": [ice_candidate(candidate_line("9", ice, "host", 0, rng), ice),
                                 "garbage"]}
    assert offerer_view(body) == {"answer": "55", "candidates": ["9", "garbage"]}
    assert offerer_view({"answer": None, "answerCandidates": []}) == {"answer": None,
                                                                       "candidates": []}
    assert answerer_view({"offer": "not sdp", "offerCandidates": []}) == {"offer": "not sdp",
                                                                          "candidates": []}
    # Non-string values become canonical JSON strings, which the checker can compare.
    assert answerer_view({"offer": "x", "offerCandidates": [{"b": 1, "a": 2}]})["candidates"] == [
        '{"a": 2, "b": 1}']


def test_a_peer_gathers_host_at_once_then_srflx_then_relay_as_browsers_do():
    rng, tokens = random.Random(5), _tokens.TokenSource()
    counts = {"host": (3, 3), "srflx": (2, 2), "relay": (2, 2)}
    for _ in range(50):
        gathered = gather(counts, IceCredentials.random(rng), tokens, rng, time_scale=0.1)
        assert [c.kind for c in gathered].count("relay") == 2 and len(gathered) == 7
        assert [c.at_s for c in gathered] == sorted(c.at_s for c in gathered)
        for candidate in gathered:  # model ms times the scale, each kind in its own range
            low, high = DELAY_MS[candidate.kind]
            assert low / 1e4 <= candidate.at_s <= high / 1e4
            assert candidate.line.startswith(f"candidate:{candidate.token} 1 ")
            assert f" typ {candidate.kind}" in candidate.line
            assert json.loads(candidate.value)["candidate"] == candidate.line
        hosts = [c for c in gathered if c.kind == "host"]
        assert max(c.at_s for c in hosts) <= min(c.at_s for c in gathered if c.kind == "relay")
        assert complete_s(gathered) == max(c.at_s for c in gathered)
    assert complete_s([]) == 0.0
    assert {c.kind for c in gather(counts, IceCredentials.random(rng), tokens, rng, 1.0)} == set(
        KINDS)


def test_an_sdp_sent_after_gathering_carries_its_candidates():
    rng = random.Random(2)
    ice = IceCredentials.random(rng)
    lines = [candidate_line(str(900 + n), ice, kind, n, rng)
             for n, kind in enumerate(("host", "srflx", "relay"))]
    offer = session_description("31", ice, rng, candidates=lines)
    assert [line[2:] for line in offer.split("\r\n") if line.startswith("a=candidate:")] == lines
    audio, video = offer.index("m=audio"), offer.index("m=video")
    assert all(audio < offer.index(line) < video for line in lines)  # the bundled first section
    assert sdp_token(offer) == "31"
    assert "a=candidate:" not in session_description("32", ice, rng)


def test_candidate_counts_and_ranges():
    assert parse_range("12", "--x") == (12, 12) and parse_range("4-24", "--x") == (4, 24)
    for bad in ("0", "5-2", "x", "3-y"):
        with pytest.raises(ValueError, match="--x"):
            parse_range(bad, "--x")
    assert parse_candidates("") == {"host": (2, 4), "srflx": (1, 2), "relay": (1, 3)}
    assert parse_candidates("relay=0, host=6") == {"host": (6, 6), "srflx": (1, 2),
                                                   "relay": (0, 0)}
    for bad, complaint in (("turn=1", "KIND=N or KIND=LO-HI"), ("host", "KIND=N"),
                           ("host=3-1", "--candidates host: '3-1' needs 0 <= LO <= HI"),
                           ("host=0,srflx=0,relay=0", "no candidate at all")):
        with pytest.raises(ValueError, match=complaint):
            parse_candidates(bad)


def test_time_scale_multiplies_every_client_timing():
    parsed = argparse.Namespace(time_scale="0.1", poll_interval=1000.0, trickle="off",
                                connection_timeout=30.0, settle="3", candidates="", run_id="")
    options = load_options(parsed)
    assert options.poll_interval_s == pytest.approx(0.1)
    assert options.connection_timeout_s == pytest.approx(3.0)
    assert options.settle_s == pytest.approx(0.3)
    assert options.run_id is None and options.trickle is False  # blanks are defaults
    assert options.candidates == {"host": (2, 4), "srflx": (1, 2), "relay": (1, 3)}
    phases = [options.discovery_phase(random.Random(n)) for n in range(200)]
    assert 0.0 <= min(phases) < 0.01 and 0.09 < max(phases) <= 0.1  # within one poll interval
    assert load_options(None).settle_s == 2.0 and load_options(None).trickle is True
    with pytest.raises(ValueError, match="time-scale"):
        load_options(argparse.Namespace(time_scale=0))
    with pytest.raises(ValueError, match="--trickle: 'maybe' is not on or off"):
        load_options(argparse.Namespace(trickle="maybe"))
