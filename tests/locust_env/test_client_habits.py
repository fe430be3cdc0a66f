"""The load tests behave like clients, not loops, and follow Locust's conventions.

Against real processes on loopback: a closed port (back-off after a failed create), our sqlite
server (a session that answers 404 is not polled on), a target that drops every other
connection before answering (a read is sent once more, a write is not), and Locust's own parser
and web UI listing (the harness's options are custom parameters there).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from gevent.pool import Group
from locust.argument_parser import ui_extra_args_dict
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from loadtests._browser import poll_until
from loadtests._history import HistoryFile
from loadtests._peer import Peer, PeerContext
from loadtests._transport import Transport
from loadtests.answer_race import AnswerRace
from loadtests.ice_trickle import IceTrickle
from server.pgcluster import free_port  # a port bound, then released: nobody listens
from support import ORIGIN
from support.targets import Target


@pytest.mark.parametrize("scenario", [AnswerRace, IceTrickle])
def test_a_failed_create_is_retried_after_a_back_off_not_at_once(run_scenario,
                                                                  scenario: type) -> None:
    # At time scale 0.2 the first back-off is 0.1 to 0.2 s, doubling: a handful of creates in
    # two seconds per user, where the race used to send thousands.
    run = run_scenario(scenario, url=f"http://127.0.0.1:{free_port()}", users=2, seconds=2.0)
    creates = [r for r in run.records if r["op"] == "create"]
    assert creates and all(r["type"] == "info" and r["status"] is None for r in creates)
    assert len(creates) <= 2 * 6, f"{len(creates)} creates in 2 s: a busy loop"


def peer_for(url: str, history: Path) -> tuple[Peer, HistoryFile, list[tuple[str, object]]]:
    """A peer on its own Locust session; what Locust was told about each request."""
    told: list[tuple[str, object]] = []
    event = EventHook()
    event.add_listener(lambda **request: told.append((request["name"], request["exception"])))
    session = FastHttpSession(url, request_event=event, user=None, concurrency=1)
    file = HistoryFile(history)
    return Peer(PeerContext(Transport(session, ORIGIN), file, {}, "Test", host="h:b"), 1,
                "offerer"), file, told


def test_a_peer_stops_polling_a_session_that_answers_404(server, tmp_path: Path) -> None:
    peer, history, _ = peer_for(server.url, tmp_path / "h.jsonl")
    started = time.monotonic()
    read = poll_until(peer, "no-such-session", "offerer", 0.05, started + 10.0,
                      lambda read: True, Group())
    history.close()
    assert read is None and time.monotonic() - started < 1.0
    [poll] = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert (poll["op"], poll["status"], poll["type"]) == ("poll", 404, "fail")


def test_a_dropped_read_is_sent_again_and_a_dropped_write_is_not(tmp_path: Path) -> None:
    with Target("drop-alternate") as target:
        peer, history, told = peer_for(target.url, tmp_path / "h.jsonl")
        read = peer.poll("c1", "offerer")       # request 1 dropped, 2 answered
        written = peer.candidate("c1", "offerer", "{}", "4711")  # request 3 dropped
        history.close()
    assert read.ok and read.read == {"answer": None, "candidates": []}
    assert written.type == "info" and written.status is None
    poll, candidate = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text()
                       .splitlines()]
    assert (poll["type"], poll["status"]) == ("ok", 200)
    assert (candidate["type"], candidate["status"], candidate["error"]) == (
        "info", None, "connection closed.")
    assert [(name, error and str(error)) for name, error in told] == [
        ("poll", "connection dropped before a response (connection closed.); the read was "
                 "sent again"),
        ("poll", None),
        ("candidate", "no response: connection closed.")]


def test_the_harness_options_are_custom_parameters_of_the_web_ui() -> None:
    shown = ui_extra_args_dict([])
    for name in ("history_dir", "run_id", "settle", "settle_mode", "session_ttl",
                 "time_scale", "poll_interval", "candidates", "answerers", "origin"):
        assert name in shown, name
    assert list(shown["settle_mode"]["choices"]) == ["fixed", "until-agreed"]
    assert "session lifetime" in shown["session_ttl"]["help_text"]


def test_once_the_final_reads_are_written_the_log_says_how_to_check_them(
        run_scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="loadtests._lifecycle"):
        run = run_scenario(IceTrickle, users=2, seconds=1.0)
    folder = tmp_path / "run"
    assert (f"the history is in {folder}; check it with: python -m analysis check {folder}"
            in caplog.text)
    assert run.meta["settling"] == {"mode": "fixed", "rounds": 1,
                                    "waited_s": run.meta["settling"]["waited_s"]}
    assert 0.35 <= run.meta["settling"]["waited_s"] < 2.0  # 2 model s at scale 0.2
