"""``dmi-gnn serve`` as a real process on localhost, talked to over HTTP with httpx."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from dmi_gnn import DMIGNN

pytestmark = pytest.mark.slow  # each module starts a server process (torch import: seconds)

SESSIONS = [
    [1, 2, 3, 2, 1],
    [7],
    [999, 5, 5, 12],
    ["3", 4, "+5", 100_000, "x"],
    list(range(1, 251)),
]


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return DMIGNN.load_from_checkpoint(tiny_checkpoint)


def _post(url: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/recommend", content=content, timeout=30, **kwargs)


def test_answers_equal_recommend_and_follow_predict_conventions(checkpoint_server, model):
    for session in SESSIONS:
        for k in (1, 20):
            answer = _post(checkpoint_server.url, {"session": session, "k": k})
            assert answer.status_code == 200, answer.text
            want = model.recommend([session], k=k)[0]
            got = answer.json()
            assert set(got) == {"unknown", "items", "scores"}
            assert got["items"] == want.items
            assert got["unknown"] == want.unknown
            assert got["scores"] == pytest.approx(want.scores, abs=1e-5)
    default = _post(checkpoint_server.url, {"session": [1, 2]}).json()
    assert len(default["items"]) == 20  # the model's top_k
    assert _post(checkpoint_server.url, {"session": [3]}).json()["unknown"] == []


def test_exclude_removes_items_and_keeps_k(checkpoint_server, model):
    full = model.recommend([[1, 2, 3]], k=30)[0].items
    leave_out = [full[0], full[3], "not-an-item", 10**6]
    got = _post(checkpoint_server.url, {"session": [1, 2, 3], "k": 20, "exclude": leave_out})
    assert got.status_code == 200
    assert got.json()["items"] == [i for i in full if i not in leave_out][:20]


def test_no_known_item_is_a_422_listing_the_unknown_ids(checkpoint_server):
    answer = _post(checkpoint_server.url, {"session": [0, 5000, "abc"]})
    assert answer.status_code == 422
    assert answer.json() == {"unknown": [0, 5000, "abc"], "error": "no known item in the session"}


BAD = [
    (b'{"session": [1, 2', 400, "malformed JSON"),
    (b"\xff\xfe{}", 400, "not UTF-8"),
    (b"[" * 600_000 + b"]" * 600_000, 413, "at most"),
    (b"[" * 20_000 + b"]" * 20_000, 400, "malformed JSON"),
    (b'{"session": [1' + b"1" * 5000 + b"]}", 400, "malformed JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b'"session"', 422, "JSON object"),
    (b"{}", 422, '"session"'),
    (b'{"session": [1], "kk": 3}', 422, "unknown key"),
    (b'{"session": []}', 422, "empty"),
    (b'{"session": 5}', 422, "list of item ids"),
    (b'{"session": [1, null]}', 422, '"session"[1] is null'),
    (b'{"session": [1, 2.5]}', 422, "2.5"),
    (b'{"session": [true]}', 422, "a boolean"),
    (b'{"session": [[1]]}', 422, "a list"),
    (b'{"session": [1], "k": 0}', 422, '"k" must be in 1..'),
    (b'{"session": [1], "k": 1001}', 422, '"k" must be in 1..'),
    (b'{"session": [1], "k": "5"}', 422, '"k" must be an integer'),
    (b'{"session": [1], "k": 2.0}', 422, '"k" must be an integer'),
    (b'{"session": [1], "k": false}', 422, '"k" must be an integer'),
    (b'{"session": [1], "exclude": 3}', 422, '"exclude" must be a list'),
    (json.dumps({"session": [1] * 301}).encode(), 422, "at most 300"),
    (json.dumps({"session": [1], "exclude": [2] * 1001}).encode(), 422, "at most 1000"),
]


def _raw_exchange(url: str, data: bytes) -> bytes:
    """Send bytes that are not a valid HTTP request; return what the server answers."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("server_fixture", ["checkpoint_server", "h11_server"])
def test_every_bad_request_is_a_4xx_with_a_message_and_the_server_lives(server_fixture, request):
    checkpoint_server = request.getfixturevalue(server_fixture)
    parser = "h11" if server_fixture == "h11_server" else "httptools"
    assert parser in httpx.get(f"{checkpoint_server.url}/health", timeout=30).json()["server"]
    for garbage in (b"GARBAGE\r\n\r\n", b"POST /recommend HTTP/1.1\r\nContent-Length: x\r\n\r\n"):
        answer = _raw_exchange(checkpoint_server.url, garbage)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
    for body, status, message in BAD:
        answer = _post(checkpoint_server.url, body)
        assert answer.status_code == status, (body[:40], answer.text)
        assert message in answer.json()["error"], (body[:40], answer.text)
        assert httpx.get(f"{checkpoint_server.url}/health", timeout=30).status_code == 200
    assert httpx.get(f"{checkpoint_server.url}/recommend", timeout=30).status_code == 405
    assert httpx.get(f"{checkpoint_server.url}/nothing", timeout=30).status_code == 404
    # A body larger than the limit, sent in chunks without a Content-Length.
    chunks = (b"x" * 65536 for _ in range(20))
    answer = httpx.post(f"{checkpoint_server.url}/recommend", content=chunks, timeout=30)
    assert answer.status_code == 413
    assert _post(checkpoint_server.url, {"session": [1]}).status_code == 200


def test_concurrent_requests_are_batched_and_answered_alike(checkpoint_server, model):
    sessions = [[1 + i % 50, 2 + i % 7, 3 + i % 11] for i in range(48)]
    before = httpx.get(f"{checkpoint_server.url}/health", timeout=30).json()

    async def send_all():
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"{checkpoint_server.url}/recommend", json={"session": s, "k": 5})
                    for s in sessions
                )
            )
            return [answer.json()["items"] for answer in answers]

    got = asyncio.run(send_all())
    assert got == [r.items for r in model.recommend(sessions, k=5)]
    after = httpx.get(f"{checkpoint_server.url}/health", timeout=30).json()
    assert after["requests"] - before["requests"] == 48
    assert after["batches"] - before["batches"] < 48  # some requests shared a pass


def test_sigterm_stops_the_server_cleanly(tiny_checkpoint):
    from tests.serving.conftest import Server

    server = Server("--ckpt_path", str(tiny_checkpoint))
    assert _post(server.url, {"session": [1, 2]}).status_code == 200
    code, out = server.stop()
    assert code == 0
    assert "stopped (SIGTERM)" in out


def test_the_export_serves_the_same_answers(export_server, checkpoint_server):
    health = httpx.get(f"{export_server.url}/health", timeout=30).json()
    assert "from the export" in health["model"]
    for session in SESSIONS[:4]:
        want = _post(checkpoint_server.url, {"session": session, "k": 20}).json()
        got = _post(export_server.url, {"session": session, "k": 20}).json()
        assert got["items"] == want["items"]
        assert got["unknown"] == want["unknown"]
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)
    assert _post(export_server.url, b"{").status_code == 400

    async def send_all(sessions):
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"{export_server.url}/recommend", json={"session": s})
                    for s in sessions
                )
            )
            return [answer.json()["items"] for answer in answers]

    sessions = [[1 + i % 40, 2 + i % 9] for i in range(64)]  # two workers, answers unchanged
    alone = [_post(checkpoint_server.url, {"session": s}).json()["items"] for s in sessions]
    assert asyncio.run(send_all(sessions)) == alone
