"""The concurrency workload shared by the tests of every backend: many clients racing on sessions.

Per session, both sides append candidates concurrently and several answerers race to answer,
while pollers read; after a settle time a final poll of each side is compared with what was
acknowledged. The counts are returned, not asserted, so the same workload proves the ``sqlite``
store loses nothing and the baselines lose writes. Given several servers (on one database), the
requests take turns among them, so any two consecutive writes to a session reach different
servers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from support import ORIGIN, candidate


@dataclass
class RaceResult:
    sessions: int = 0
    appends_sent: int = 0
    appends_acknowledged: int = 0
    appends_found: int = 0
    appends_lost: int = 0
    duplicates: int = 0
    order_violations: int = 0
    answers_acknowledged: int = 0
    sessions_with_conflicting_answers: int = 0
    acknowledged_answers_not_stored: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def lost_writes(self) -> int:
        return self.appends_lost + self.acknowledged_answers_not_stored

    def summary(self) -> str:
        return (
            f"{self.sessions} sessions: candidate appends sent {self.appends_sent}, acknowledged "
            f"{self.appends_acknowledged}, found {self.appends_found}, lost {self.appends_lost}, "
            f"duplicated {self.duplicates}, order violations {self.order_violations}; answers "
            f"acknowledged {self.answers_acknowledged}, sessions with >1 acknowledged answer "
            f"{self.sessions_with_conflicting_answers}, acknowledged answers not stored "
            f"{self.acknowledged_answers_not_stored}; statuses {dict(sorted(self.statuses.items()))}"
        )


def race_candidate(session: int, side: str, n: int) -> str:
    """The ``n``-th candidate of one side of one session, its token unique in the race."""
    return candidate(f"s{session}{side[0]}{n}", n)


def answer_sdp(session: int, n: int) -> str:
    return f"v=0\r\no=- {session * 100 + n} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class _Client:
    def __init__(self, http: aiohttp.ClientSession, urls: Sequence[str], result: RaceResult
                 ) -> None:
        self.http, self.result = http, result
        self.urls = itertools.cycle(urls)

    async def post(self, path: str, body: dict[str, object], client_id: str
                   ) -> tuple[int, dict[str, object]]:
        headers = {"Origin": ORIGIN, "X-Client-Id": client_id}
        url = next(self.urls)
        async with self.http.post(url + path, json=body, headers=headers) as response:
            self.result.statuses[response.status] += 1
            return response.status, await response.json(content_type=None)


async def _race_one(client: _Client, index: int, code: str, appends: int, answers: int,
                    polls: int
                    ) -> tuple[dict[str, list[str]], set[str], list[tuple[str, list[str]]]]:
    """Run one session's race; returns acknowledged candidates per side, acknowledged answers,
    and the candidate lists the mid-race polls saw (to check their order later)."""
    acked: dict[str, list[str]] = {"offerer": [], "answerer": []}
    acked_answers: set[str] = set()
    seen: list[tuple[str, list[str]]] = []

    async def append(side: str, n: int) -> None:
        value = race_candidate(index, side, n)
        status, _ = await client.post("/answer", {"code": code, "side": side, "candidate": value},
                                      f"s{index}-{side}-{n % 3}")
        if status == 200:
            acked[side].append(value)

    async def answer(n: int) -> None:
        value = answer_sdp(index, n)
        status, _ = await client.post("/answer", {"code": code, "side": "answerer",
                                                  "answer": value}, f"s{index}-answerer-{n}")
        if status == 200:
            acked_answers.add(value)

    async def poll(side: str) -> None:
        for _ in range(polls):
            status, body = await client.post("/poll", {"code": code, "side": side},
                                             f"s{index}-{side}-poller")
            if status == 200:
                if side == "offerer":
                    seen.append(("answerer", list(body["answerCandidates"])))  # type: ignore[arg-type]
                else:
                    seen.append(("offerer", list(body["offerCandidates"])))  # type: ignore[arg-type]
            await asyncio.sleep(0)

    tasks = [append(side, n) for side in ("offerer", "answerer") for n in range(appends)]
    tasks += [answer(n) for n in range(answers)]
    tasks += [poll("offerer"), poll("answerer")]
    await asyncio.gather(*tasks)
    return acked, acked_answers, seen


async def run_race(url: str | Sequence[str], *, sessions: int = 100, appends: int = 25,
                   answers: int = 5, polls: int = 3, settle: float = 0.0,
                   connections: int = 100) -> RaceResult:
    """Race ``appends`` candidates per side and ``answers`` answers on each of ``sessions``, at
    one server (``url``) or taking turns among several."""
    result = RaceResult(sessions=sessions, appends_sent=sessions * appends * 2)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                     timeout=timeout) as http:
        client = _Client(http, [url] if isinstance(url, str) else url, result)
        codes = []
        for index in range(sessions):
            # One topic per session: the race is on sessions, and on the kv backend creates in
            # one topic would collide on the topic index's per-key write limit (a 500).
            status, body = await client.post(f"/race-{index}/offer", {
                "peerId": f"peer-{index}", "offer": answer_sdp(index, 99), "code": f"race-{index}",
            }, f"s{index}-offerer")
            assert status == 200, body
            codes.append(str(body["code"]))
        outcomes = await asyncio.gather(*[
            _race_one(client, i, code, appends, answers, polls) for i, code in enumerate(codes)
        ])
        await asyncio.sleep(settle)
        for index, (code, (acked, acked_answers, seen)) in enumerate(zip(codes, outcomes)):
            final = {}
            for side, key, other in (("offerer", "answerCandidates", "answerer"),
                                     ("answerer", "offerCandidates", "offerer")):
                status, body = await client.post("/poll", {"code": code, "side": side},
                                                 f"final-{index}")
                assert status == 200, body
                final[other] = list(body[key])  # type: ignore[arg-type]
                if side == "offerer":
                    stored_answer = body["answer"]
            _tally(result, acked, acked_answers, stored_answer, final, seen)
    return result


def _tally(result: RaceResult, acked: dict[str, list[str]], acked_answers: set[str],
           stored_answer: object, final: dict[str, list[str]],
           seen: list[tuple[str, list[str]]]) -> None:
    for side, values in acked.items():
        result.appends_acknowledged += len(values)
        counts = Counter(final[side])
        result.duplicates += sum(n - 1 for n in counts.values() if n > 1)
        found = sum(1 for value in values if counts[value] >= 1)
        result.appends_found += found
        result.appends_lost += len(values) - found
    for side, read in seen:
        # A mid-race read must be a prefix of the final list of its side (one total order).
        if read != final[side][: len(read)]:
            result.order_violations += 1
    result.answers_acknowledged += len(acked_answers)
    if len(acked_answers) > 1:
        result.sessions_with_conflicting_answers += 1
    result.acknowledged_answers_not_stored += sum(1 for a in acked_answers if a != stored_answer)
