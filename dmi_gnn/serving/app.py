"""The HTTP application: ``POST /recommend`` and ``GET /health`` on FastAPI.

``POST /recommend`` takes ``{"session": [raw ids, oldest first], "k": 20, "exclude": [...]}``
and answers ``{"unknown": [...], "items": [...], "scores": [...]}`` (the keys of a
``predictions.jsonl`` line). Unknown ids are skipped and listed, never fatal; a session with no
known item is a 422 ``{"unknown": [...], "error": "no known item in the session"}``. Every bad
request is a 4xx ``{"error": message}`` (:mod:`dmi_gnn.serving.requests`); a full queue is a
503; a failure inside the model a 500 with a message. None of them stops the server.

The body is read by hand (no pydantic model): the size limit holds for chunked bodies too, and
every problem gets its own message and status. It is read as JSON whatever its ``Content-Type``
(``curl -d`` sends ``application/x-www-form-urlencoded``).
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dmi_gnn.serving.batcher import DynamicBatcher, QueueFull
from dmi_gnn.serving.recommender import Backend, recommend
from dmi_gnn.serving.requests import Limits, RequestError, parse_query
from dmi_gnn.serving.retrieval import Retrieval

log = logging.getLogger(__name__)


def _json(status: int, content: Any) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"bad Content-Length {declared!r}")
        if int(declared) > limit:
            raise RequestError(413, f"the body holds {declared} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the body holds more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    backend: Backend,
    limits: Limits | None = None,
    max_batch: int = 64,
    max_wait: float = 0.002,
    max_queue: int = 4096,
    retrieval: Retrieval | None = None,
    server_stack: str = "",
    workers: int = 1,
) -> FastAPI:
    """The application serving ``backend``.

    Args:
        backend: where interest vectors and the candidate table come from.
        limits: what one request may ask for.
        max_batch, max_wait, max_queue, workers: the dynamic batching
            (:class:`DynamicBatcher`; ``workers`` batches may run at once).
        retrieval: exact or ANN top items (:mod:`dmi_gnn.serving.retrieval`); None = exact.
        server_stack: the HTTP server, parser and loop, shown by ``GET /health``.
    """
    limits = limits or Limits()
    batcher = DynamicBatcher(
        lambda queries: [answer for answer in recommend(backend, queries, retrieval)],
        max_batch=max_batch,
        max_wait=max_wait,
        max_queue=max_queue,
        workers=workers,
    )
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        log.info("serving %s", backend.description)
        yield
        await batcher.stop()  # uvicorn has stopped taking requests (SIGTERM, Ctrl-C)

    app = FastAPI(
        title="DMI-GNN",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.batcher = batcher

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return _json(error.status_code, {"error": str(error.detail)})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return _json(422, {"error": str(error)})

    @app.get("/health")
    async def health() -> Response:
        return _json(
            200,
            {
                "status": "ok",
                "model": backend.description,
                "num_items": backend.num_items,
                "retrieval": retrieval.description if retrieval is not None else "exact",
                "server": server_stack,
                "max_session_length": backend.max_session_length,
                "uptime_s": round(time.monotonic() - started, 3),
                "batches": batcher.batches,
                "requests": batcher.requests,
            },
        )

    @app.post("/recommend")
    async def recommend_one(request: Request) -> Response:
        batcher.arriving(+1)
        try:
            body = await _read_body(request, limits.max_body_bytes)
            query = parse_query(body, limits, backend.num_items)
        except RequestError as error:
            return _json(error.status, {"error": error.message})
        finally:
            batcher.arriving(-1)
        try:
            answer = await batcher.submit(query)
        except QueueFull as error:
            return _json(503, {"error": f"overloaded: {error}; retry later"})
        except Exception as error:
            return _json(500, {"error": f"internal error: {type(error).__name__}: {error}"})
        return _json(200 if answer.error is None else 422, answer.to_json())

    return app
