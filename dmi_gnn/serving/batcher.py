"""Dynamic batching: concurrent requests share one model pass.

Requests wait in a bounded queue; one consumer takes the first, then keeps taking queued ones
until it holds ``max_batch``, or ``max_wait`` has passed since the first, or nothing more is on
its way (no request is being read or parsed: a lone request never waits). The batch then runs
in a worker thread (so the event loop keeps accepting and parsing requests meanwhile), and each
request gets its own result. With ``workers = 1`` (the default) the model sees one batch at a
time; while it runs, new requests queue up and form the next one: under load, batches grow by
themselves. With ``workers = W`` up to ``W`` batches run at once in ``W`` threads (the model
pass must then be thread-safe, as onnxruntime sessions, faiss searches and torch inference are):
numpy, onnxruntime and torch release the GIL in their kernels, so two batches can use two
cores.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """The queue holds ``max_queue`` requests already (the server answers 503)."""


class DynamicBatcher:
    """A queue of requests served in batches by ``run_batch`` in one worker thread.

    Args:
        run_batch: maps a list of payloads to the list of their results (same order).
        max_batch: the most requests per batch (>= 1).
        max_wait: seconds a batch may wait for more requests after its first (>= 0).
        max_queue: the most requests waiting; more are refused with :class:`QueueFull`.
        workers: batches that may run at once, each in its own thread (>= 1).
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Any]], Sequence[Any]],
        max_batch: int = 64,
        max_wait: float = 0.002,
        max_queue: int = 4096,
        workers: int = 1,
    ) -> None:
        if max_batch < 1 or max_wait < 0 or max_queue < 1 or workers < 1:
            raise ValueError(
                f"max_batch must be >= 1, max_wait >= 0, max_queue >= 1 and workers >= 1; got "
                f"{max_batch}, {max_wait}, {max_queue}, {workers}"
            )
        self.workers = workers
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._running: set[asyncio.Task] = set()
        #: Requests being read or parsed (announced with :meth:`arriving`).
        self._arriving = 0
        #: Sizes of the batches run so far (for ``GET /health`` and the benchmark).
        self.batches = 0
        self.requests = 0

    def start(self) -> None:
        """Start the consumer (inside the running event loop)."""
        self._queue = asyncio.Queue(self.max_queue)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="dmi-gnn-batch")
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def stop(self) -> None:
        """Answer what is queued, then stop the consumer and the worker thread."""
        if self._queue is not None:
            await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def arriving(self, change: int) -> None:
        """Count a request that is being read (+1) or that has been submitted or refused (-1)."""
        self._arriving += change

    async def submit(self, payload: Any) -> Any:
        """The result of ``payload`` (exceptions of ``run_batch`` are raised here).

        Raises:
            QueueFull: ``max_queue`` requests are waiting already.
        """
        assert self._queue is not None, "DynamicBatcher.start() was not called"
        future = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((payload, future))
        except asyncio.QueueFull:
            raise QueueFull(f"{self.max_queue} requests are queued already") from None
        return await future

    async def _collect(self) -> list[tuple[Any, asyncio.Future]]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if self._arriving <= 0 or remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _consume(self) -> None:
        free = asyncio.Semaphore(self.workers)
        while True:
            await free.acquire()
            try:
                batch = await self._collect()
            except BaseException:
                free.release()
                raise
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _: free.release())

    async def _run(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        """Run one batch in a worker thread and hand each request its result (or the error)."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        payloads = [payload for payload, _ in batch]
        try:
            results = await loop.run_in_executor(self._executor, self.run_batch, payloads)
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
        except Exception as error:  # every waiting request learns it; the loop goes on
            log.exception("a batch of %d requests failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # the client may have gone
                    future.set_result(result)
        finally:
            self.batches += 1
            self.requests += len(batch)
            for _ in batch:
                self._queue.task_done()
