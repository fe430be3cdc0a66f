"""Each scenario, run in process against a real sqlite server for a few seconds.

Beyond the checks every history must pass (``history_checks``), each test checks what the
scenario exists to exercise, on a server that must not lose anything: these tests fail if the
recorder drops, invents or misreads a write.
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict

from history_checks import assert_history_sound

from analysis.checker import check_run, run_to_json
from analysis.history import load_run
from loadtests.answer_race import AnswerRace
from loadtests.handshake import Handshake
from loadtests.ice_trickle import IceTrickle

OTHER = {"offerer": "answerer", "answerer": "offerer"}


def final_view(run, session, side):
    [read] = [r["read"] for r in run.finals() if r["session"] == session and r["side"] == side]
    return read


def test_ice_trickle(run_scenario):
    run = run_scenario(IceTrickle, users=4, seconds=3.0)
    assert_history_sound(run)
    load = run.load()
    acked = defaultdict(list)
    answers = {}
    for r in load:
        if r["op"] == "candidate" and r["type"] == "ok":
            acked[(r["session"], r["side"])].append(r["value"])
        if r["op"] == "answer" and r["type"] == "ok":
            answers[r["session"]] = r["value"]
    assert sum(map(len, acked.values())) >= 20 and answers
    for (session, side), tokens in acked.items():
        view = final_view(run, session, OTHER[side])  # a side's poll shows the other's list
        assert set(tokens) <= set(view["candidates"]), "an acknowledged candidate is missing"
    for session, token in answers.items():
        assert final_view(run, session, "offerer")["answer"] == token
    completed = [r for r in load if r["op"] == "poll" and r["side"] == "offerer"
                 and r["type"] == "ok" and r["read"]["answer"] == answers.get(r["session"])]
    assert completed, "no offerer ever saw its answer"


def test_ice_trickle_off_sends_candidates_inside_the_sdp_and_is_still_verified(run_scenario,
                                                                               server):
    """``--trickle off``, as rondevu's own client: no candidate goes through /answer; the offer
    and the answer are the session's objects, and the checker verifies every session on them."""
    run = run_scenario(IceTrickle, users=4, seconds=3.0, args=["--trickle", "off"])
    assert_history_sound(run)
    load = run.load()
    assert run.meta["client"]["trickle"] is False
    assert {r["op"] for r in load} == {"create", "poll", "answer"}  # no candidate appends
    answers = {r["session"]: r["value"] for r in load if r["op"] == "answer" and r["type"] == "ok"}
    assert len(answers) >= 4
    for session, token in answers.items():
        assert final_view(run, session, "offerer") == {"answer": token, "candidates": []}
    session = next(iter(answers))
    request = urllib.request.Request(
        server.url + "/poll", data=json.dumps({"code": session, "side": "answerer"}).encode(),
        headers={"Origin": run.meta["client"]["origin"], "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["offerCandidates"] == [] and body["offer"].count("\r\na=candidate:") >= 4
    checked = run_to_json(check_run(load_run(run.files[0].parent.parent)))
    assert checked["verdict"] == "consistent"
    assert checked["sessions"] >= len(answers) and checked["unverifiable"] == 0


def test_answer_race(run_scenario):
    run = run_scenario(AnswerRace, users=3, seconds=3.0, args=["--answerers", "4"])
    assert_history_sound(run)
    answers = defaultdict(list)
    for r in run.load():
        if r["op"] == "answer" and r["status"] is not None:
            answers[r["session"]].append(r)
    races = [rs for rs in answers.values() if len(rs) == 4]
    assert races, "no race with all four answerers"
    for session, records in answers.items():
        winners = [r["value"] for r in records if r["type"] == "ok"]
        assert len(winners) == 1, "a write-once answer accepted twice"
        assert all(r["status"] == 409 for r in records if r["type"] != "ok")
        assert final_view(run, session, "offerer")["answer"] == winners[0]
    learners = {r["client"] for r in run.load() if r["op"] == "poll" and r["type"] == "ok"
                and r["read"]["answer"] is not None}
    assert any("/answerer-4" in client for client in learners)


def test_handshake(run_scenario):
    run = run_scenario(Handshake, users=3, seconds=3.0)
    assert_history_sound(run)
    flows = run.environment.stats.entries[("handshake", "FLOW")]
    assert flows.num_requests >= 3 and flows.num_failures == 0
    ops = {r["op"] for r in run.load()}
    assert ops == {"create", "list", "poll", "answer", "candidate", "leave"}
    left = {r["session"] for r in run.load() if r["op"] == "leave" and r["type"] == "ok"}
    assert left
    for r in run.finals():
        if r["session"] in left:
            assert r["status"] == 404  # the final read finds a session that was left gone
