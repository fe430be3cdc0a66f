"""The signaling API for one client at a time, on every backend (one suite, parametrized).

Each error case also asserts that nothing was written: a snapshot of everything the API can
show is taken before the bad request and compared after it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from server.app import create_app
from server.stores import BACKENDS
from support import ORIGIN, candidate
from support.api import (
    ANSWER,
    HEADERS,
    OFFER,
    ManualClock,
    SettingsFactory,
    call,
    create,
    poll,
)


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def client(aiohttp_client: Any, api_settings: SettingsFactory, backend: str,
                 clock: ManualClock) -> TestClient:
    return await aiohttp_client(create_app(api_settings(backend), clock))


async def snapshot(client: TestClient, codes: list[str]) -> Any:
    """Everything the API shows about these sessions and the topic index."""
    topics = await call(client, "GET", "/?limit=1000")
    listed = await call(client, "GET", "/room/sessions")
    polls = [await call(client, "POST", "/poll", {"code": c, "side": s})
             for c in codes for s in ("offerer", "answerer")]
    return topics, listed, polls


# --- happy paths -------------------------------------------------------------------------


async def test_health(client: TestClient) -> None:
    status, body = await call(client, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and isinstance(body["timestamp"], int)


async def test_create_then_poll_both_sides(client: TestClient) -> None:
    code = await create(client)
    uuid.UUID(code)
    assert await poll(client, code, "offerer") == {"answer": None, "answerCandidates": []}
    assert await poll(client, code, "answerer") == {"offer": OFFER, "offerCandidates": []}


async def test_custom_code_and_code_in_use(client: TestClient) -> None:
    assert await create(client, code="my-code") == "my-code"
    before = await snapshot(client, ["my-code"])
    status, body = await call(client, "POST", "/other/offer",
                              {"peerId": "p", "offer": "different", "code": "my-code"})
    assert status == 409 and "my-code" in body["error"]
    assert await snapshot(client, ["my-code"]) == before


# The baselines write the answer without checking for an earlier one, as rondevu did
# (docs/baselines.md): a different second answer is acknowledged and replaces the first.
OVERWRITES_ANSWER = {"rmw", "rmw-postgres", "kv"}


async def test_answer_is_write_once(client: TestClient, backend: str) -> None:
    code = await create(client)
    ok = {"code": code, "side": "answerer", "answer": ANSWER}
    assert await call(client, "POST", "/answer", ok) == (200, {"success": True})
    assert (await poll(client, code, "offerer"))["answer"] == ANSWER
    assert await call(client, "POST", "/answer", ok) == (200, {"success": True})  # a retry
    status, body = await call(client, "POST", "/answer", {**ok, "answer": ANSWER + "x"})
    if backend in OVERWRITES_ANSWER:
        assert status == 200
        assert (await poll(client, code, "offerer"))["answer"] == ANSWER + "x"
        return
    assert status == 409 and "answer" in body["error"]
    assert (await poll(client, code, "offerer"))["answer"] == ANSWER


async def test_candidates_in_append_order_per_side(client: TestClient) -> None:
    code = await create(client)
    for token in ("o1", "o2", "o3"):
        status, _ = await call(client, "POST", "/answer",
                               {"code": code, "side": "offerer", "candidate": candidate(token)})
        assert status == 200
    await call(client, "POST", "/answer",
               {"code": code, "side": "answerer", "candidate": candidate("a1")})
    assert (await poll(client, code, "answerer"))["offerCandidates"] == [
        candidate("o1"), candidate("o2"), candidate("o3")]
    assert (await poll(client, code, "offerer"))["answerCandidates"] == [candidate("a1")]


async def test_sessions_by_topic_unanswered_newest_first_this_origin(
    client: TestClient, clock: ManualClock
) -> None:
    first = await create(client)
    clock.offset += 1
    second = await create(client)
    clock.offset += 1
    answered = await create(client)
    await call(client, "POST", "/answer", {"code": answered, "side": "answerer", "answer": ANSWER})
    await call(client, "POST", "/answer",
               {"code": first, "side": "offerer", "candidate": candidate("c1")})
    await call(client, "POST", "/room/offer", {"peerId": "x", "offer": OFFER},
               headers={"Origin": "https://elsewhere.example"})
    status, body = await call(client, "GET", "/room/sessions")
    assert status == 200
    assert [s["code"] for s in body["sessions"]] == [second, first]
    assert body["total"] == 2 and body["hasMore"] is False
    listed = body["sessions"][1]
    assert listed["peerId"] == "peer-a" and listed["offer"] == OFFER
    assert "offerCandidates" not in listed  # an answerer polls for them (docs/server-limits.md)
    assert listed["expiresAt"] - listed["createdAt"] == 300_000


async def test_topics_sorted_and_paginated(client: TestClient) -> None:
    for topic in ("b", "a", "c", "a"):
        await create(client, topic)
    status, body = await call(client, "GET", "/?page=1&limit=2")
    assert status == 200
    assert body["topics"] == [{"topic": "a", "count": 2}, {"topic": "b", "count": 1}]
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "hasMore": True}
    status, body = await call(client, "GET", "/?page=2&limit=2")
    assert body["topics"] == [{"topic": "c", "count": 1}] and not body["pagination"]["hasMore"]
    status, body = await call(client, "GET", "/?page=9&limit=2")
    assert body["topics"] == [] and body["pagination"]["total"] == 3


async def test_leave_deletes(client: TestClient) -> None:
    code = await create(client)
    assert await call(client, "POST", "/leave", {"code": code}) == (200, {"success": True})
    status, body = await call(client, "POST", "/poll", {"code": code, "side": "offerer"})
    assert status == 404 and code in body["error"]
    status, _ = await call(client, "POST", "/leave", {"code": code})
    assert status == 404


async def test_harness_config_and_server_timing(client: TestClient, backend: str) -> None:
    response = await client.get("/_harness/config")
    body = await response.json()
    assert body["backend"] == backend and body["settings"]["session_ttl"] == 300_000
    assert response.headers["Server-Timing"].startswith("app;dur=")


# --- not found ---------------------------------------------------------------------------


@pytest.mark.parametrize("path,body", [
    ("/poll", {"side": "offerer"}),
    ("/answer", {"side": "answerer", "answer": ANSWER}),
    ("/answer", {"side": "offerer", "candidate": candidate("x")}),
    ("/leave", {}),
])
async def test_unknown_other_origin_and_expired_codes_are_404(
    client: TestClient, clock: ManualClock, path: str, body: dict[str, Any]
) -> None:
    code = await create(client)
    before = await snapshot(client, [code])
    for headers, code_sent in [(HEADERS, "no-such-code"),
                               ({"Origin": "https://elsewhere.example"}, code)]:
        status, reply = await call(client, "POST", path, {**body, "code": code_sent}, headers)
        assert status == 404 and "not found" in reply["error"]
    assert await snapshot(client, [code]) == before
    clock.offset += 301
    status, _ = await call(client, "POST", path, {**body, "code": code})
    assert status == 404
    assert (await call(client, "GET", "/room/sessions"))[1]["sessions"] == []


# --- bad input ---------------------------------------------------------------------------

LONG = "x" * 1025


@pytest.mark.parametrize("method,path,body,field", [
    ("POST", "/room/offer", "{not json", "JSON"),
    ("POST", "/room/offer", "[1, 2]", "object"),
    ("POST", "/room/offer", {"offer": OFFER}, "peerId"),
    ("POST", "/room/offer", {"peerId": 7, "offer": OFFER}, "peerId"),
    ("POST", "/room/offer", {"peerId": LONG, "offer": OFFER}, "peerId"),
    ("POST", "/room/offer", {"peerId": "p"}, "offer"),
    ("POST", "/room/offer", {"peerId": "p", "offer": ""}, "offer"),
    ("POST", "/room/offer", {"peerId": "p", "offer": OFFER, "code": ["a"]}, "code"),
    ("POST", f"/{LONG}/offer", {"peerId": "p", "offer": OFFER}, "topic"),
    ("POST", "/answer", {"side": "answerer", "answer": ANSWER}, "code"),
    ("POST", "/answer", {"code": "{code}", "answer": ANSWER}, "side"),
    ("POST", "/answer", {"code": "{code}", "side": "middle", "answer": ANSWER}, "side"),
    ("POST", "/answer", {"code": "{code}", "side": "answerer"}, "answer and candidate"),
    ("POST", "/answer", {"code": "{code}", "side": "answerer", "answer": ANSWER,
                         "candidate": "c"}, "answer and candidate"),
    ("POST", "/answer", {"code": "{code}", "side": "offerer", "answer": ANSWER}, "side"),
    ("POST", "/answer", {"code": "{code}", "side": "offerer", "candidate": 5}, "candidate"),
    ("POST", "/answer", {"code": "{code}", "side": "offerer", "candidate": "x" * 9000},
     "candidate"),
    ("POST", "/poll", {"code": "{code}"}, "side"),
    ("POST", "/poll", {"code": None, "side": "offerer"}, "code"),
    ("POST", "/leave", "", "JSON"),
    ("GET", "/?page=abc", None, "page"),
    ("GET", "/?page=0", None, "page"),
    ("GET", "/?limit=1001", None, "limit"),
    ("GET", "/?page=99999999999999999999999", None, "page"),
    ("POST", "/poll", '{"code": "\\ud800", "side": "offerer"}', "code"),
    ("POST", "/room/offer", '{"peerId": "p", "offer": "v=0 \\udfff"}', "offer"),
    ("POST", "/answer", '{"code": "{code}", "side": "offerer", "candidate": "\\ud83d"}',
     "candidate"),
    ("POST", "/poll", "[" * 5000 + "]" * 5000, "nested too deeply"),
])
async def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    client: TestClient, method: str, path: str, body: Any, field: str
) -> None:
    code = await create(client)
    before = await snapshot(client, [code])
    raw = json.dumps(body) if isinstance(body, dict) else body
    raw = raw.replace("{code}", code) if raw else raw
    response = await client.request(method, path, data=raw, headers=HEADERS)
    reply = await response.json()
    assert response.status == 400, reply
    assert field in reply["error"]
    assert await snapshot(client, [code]) == before


async def test_body_over_64_kib_is_413(client: TestClient) -> None:
    code = await create(client)
    before = await snapshot(client, [code])
    status, body = await call(client, "POST", "/room/offer",
                              {"peerId": "p", "offer": "x" * 70_000})
    assert status == 413 and "65536" in body["error"]
    status, body = await call(client, "POST", "/answer",
                              {"code": code, "side": "answerer", "answer": "x" * 70_000})
    assert status == 413
    assert await snapshot(client, [code]) == before


async def test_candidate_bound_is_413_and_appends_nothing(
    aiohttp_client: Any, api_settings: SettingsFactory, backend: str
) -> None:
    client = await aiohttp_client(
        create_app(api_settings(backend, max_candidates=2), ManualClock())
    )
    code = await create(client)
    for token in ("c1", "c2"):
        await call(client, "POST", "/answer",
                   {"code": code, "side": "offerer", "candidate": candidate(token)})
    status, body = await call(client, "POST", "/answer",
                              {"code": code, "side": "offerer", "candidate": candidate("c3")})
    assert status == 413 and "2 candidates" in body["error"]
    assert (await poll(client, code, "answerer"))["offerCandidates"] == [
        candidate("c1"), candidate("c2")]
    status, _ = await call(client, "POST", "/answer",
                           {"code": code, "side": "answerer", "candidate": candidate("a1")})
    assert status == 200  # the bound is per side


async def test_unknown_route_and_method_are_json_errors(client: TestClient) -> None:
    status, body = await call(client, "GET", "/a/b/c")
    assert status == 404 and "error" in body
    response = await client.get("/poll", headers=HEADERS)
    assert response.status == 405 and "error" in await response.json()
    assert response.headers["Allow"] == "POST"


async def test_header_bytes_that_are_not_utf8_are_400_naming_the_header(
    client: TestClient,
) -> None:
    """aiohttp's client encodes headers itself, so the request is written by hand."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    body = b'{"code": "x", "side": "offerer"}'
    writer.write(b"POST /poll HTTP/1.1\r\nHost: t\r\nOrigin: \xff\xfe\r\n"
                 b"Content-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    reply = await reader.read()
    writer.close()
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply
    assert b"header Origin is not valid UTF-8" in payload
    assert b"Access-Control-Allow-Origin" not in head


async def test_an_origin_never_sees_another_origins_sessions_through_a_shared_prefix(
    client: TestClient,
) -> None:
    other = {"Origin": ORIGIN + ":8443", "X-Client-Id": "client-2"}
    await call(client, "POST", "/room/offer", {"peerId": "p", "offer": OFFER}, headers=other)
    assert (await call(client, "GET", "/?limit=1000"))[1]["topics"] == []
    assert (await call(client, "GET", "/8443:room/sessions"))[1]["sessions"] == []


# --- CORS --------------------------------------------------------------------------------


async def test_cors_reflects_origin_and_answers_preflight(client: TestClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert (await client.get("/health")).headers["Vary"] == "Origin"  # even without an Origin
    response = await client.options("/answer", headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-client-id"})
    assert response.status == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-client-id"


async def test_cors_allow_list(aiohttp_client: Any, api_settings: SettingsFactory,
                               backend: str) -> None:
    settings = api_settings(backend, cors_origins=("https://ok.example",))
    client = await aiohttp_client(create_app(settings, ManualClock()))
    ok = await client.get("/health", headers={"Origin": "https://ok.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    refused = await client.get("/health", headers={"Origin": "https://bad.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


# --- no input makes a 500 -----------------------------------------------------------------

# Text with lone surrogates too: JSON can carry them (\\ud800), no database can store them.
any_text = st.text(st.characters(blacklist_categories=()), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=3),
    max_leaves=8,
)
fields = st.fixed_dictionaries({}, optional={
    name: json_values | st.sampled_from(["offerer", "answerer", "{code}", OFFER])
    for name in ("code", "side", "answer", "candidate", "peerId", "offer")
})


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/answer", "/poll", "/leave", "/t/offer"]),
       body=fields | json_values)
async def test_no_input_makes_a_500(client: TestClient, path: str, body: Any) -> None:
    code = await create(client)  # so that "{code}" reaches a live session's success paths
    raw = json.dumps(body).replace('"{code}"', json.dumps(code))
    response = await client.post(path, data=raw, headers=HEADERS)
    assert response.status < 500, await response.text()
    assert response.status in (200, 400, 404, 409, 413)
