"""Request validation and the dynamic batcher (no server)."""

from __future__ import annotations

import asyncio

import pytest

from dmi_gnn.serving.batcher import DynamicBatcher, QueueFull
from dmi_gnn.serving.requests import Limits, RequestError, parse_query


def test_a_good_body_becomes_a_query():
    limits = Limits(default_k=7)
    assert parse_query(b'{"session": [1, "a"]}', limits, 100) == ([1, "a"], 7, [])
    query = parse_query(b'{"session": [1], "k": 100, "exclude": [2]}', limits, 100)
    assert (query.k, query.exclude) == (100, [2])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"nan", 400),
        (b'{"session": [1]}' + b" " * 100, 413),
        (b'{"session": [1], "k": 101}', 422),  # more than the items
        (b'{"session": [1, 2, 3, 4, 5, 6]}', 422),
        (b'{"session": {"a": 1}}', 422),
    ],
)
def test_bad_bodies_get_their_status(body, status):
    limits = Limits(max_body_bytes=60, max_session_items=5)
    with pytest.raises(RequestError) as caught:
        parse_query(body, limits, 100)
    assert caught.value.status == status


def test_the_batcher_batches_waiting_requests_and_survives_a_failure():
    sizes = []

    def run(payloads):
        sizes.append(len(payloads))
        if "boom" in payloads:
            raise RuntimeError("boom")
        return [payload * 2 for payload in payloads]

    async def scenario():
        batcher = DynamicBatcher(run, max_batch=4, max_wait=0.05, max_queue=20)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit("boom")
        after = await batcher.submit(21)
        await batcher.stop()
        return results, after

    results, after = asyncio.run(scenario())
    assert results == [2 * i for i in range(10)] and after == 42
    assert sizes[:3] == [4, 4, 2]  # queued requests share a pass, at most max_batch


def test_the_batcher_refuses_past_max_queue():
    async def scenario():
        batcher = DynamicBatcher(lambda p: p, max_batch=1, max_wait=0, max_queue=1)
        batcher.start()
        waiting = [asyncio.ensure_future(batcher.submit(i)) for i in range(3)]
        await asyncio.sleep(0)
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        await batcher.stop()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert any(isinstance(o, QueueFull) for o in outcomes)
    assert 0 in outcomes


def test_the_http_parser_and_loop_resolve_to_what_is_installed(monkeypatch):
    import importlib.util

    from dmi_gnn.errors import ConfigError
    from dmi_gnn.serving.server import resolve_implementation

    installed = importlib.util.find_spec("httptools") is not None
    assert resolve_implementation("auto", "httptools", "h11") == (
        "httptools" if installed else "h11"
    )
    assert resolve_implementation("h11", "httptools", "h11") == "h11"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert resolve_implementation("auto", "uvloop", "asyncio") == "asyncio"
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        resolve_implementation("uvloop", "uvloop", "asyncio")


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_bound_the_batches_running_at_once(workers):
    """``workers`` batches may overlap in time, never more; every request gets its own result."""
    import threading
    import time

    lock, running, peak = threading.Lock(), [0], [0]

    def run(payloads):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return [payload + 1 for payload in payloads]

    async def scenario():
        batcher = DynamicBatcher(run, max_batch=2, max_wait=0, max_queue=50, workers=workers)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(12)))
        await batcher.stop()
        return results

    assert asyncio.run(scenario()) == list(range(1, 13))
    assert peak[0] == workers
    with pytest.raises(ValueError, match="workers >= 1"):
        DynamicBatcher(run, workers=0)
