"""Dynamic batching: requests from concurrent callers answered together, a batch at a time.

    batcher = MicroBatcher(spec_answer_many, max_batch=16, max_wait_ms=5, queue_size=256)
    future = batcher.submit(record)          # concurrent.futures.Future; QueueFull when the queue is full
    future.result(timeout=30)                # this record's answer
    await asyncio.wrap_future(batcher.submit(record))   # from an event loop
    batcher.stats()                          # {"batches", "items", "mean_batch", "largest_batch", "queued"}
    batcher.close()

One worker thread per batcher takes the first waiting item, then whatever else arrives within
`max_wait_ms` up to `max_batch` items, and calls `fn(items)` once; `fn` returns one result per item, in
order. An exception from `fn` fails every item of that batch (the caller decides what to do with it);
an item whose caller stopped waiting (its future cancelled) is dropped before the batch runs.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class QueueFull(Exception):
    """The batcher's queue holds `queue_size` items already: answer 429 and let the caller retry."""


class MicroBatcher(Generic[T, R]):
    """Collects items submitted from any thread into batches for one `fn(list) -> list` call."""

    def __init__(self, fn: Callable[[list[T]], Sequence[R]], max_batch: int = 16, max_wait_ms: float = 5.0,
                 queue_size: int = 256, name: str = "batcher"):
        if max_batch < 1 or queue_size < 1:
            raise ValueError("max_batch and queue_size must be >= 1")
        self.fn, self.max_batch, self.max_wait = fn, int(max_batch), max(0.0, float(max_wait_ms)) / 1000.0
        self._queue: queue.Queue[tuple[T, Future] | None] = queue.Queue(maxsize=queue_size)
        self._batches = self._items = self._largest = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> Future:
        """A future for `item`'s result. Raises QueueFull when the queue is full, RuntimeError once closed."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        fut: Future = Future()
        try:
            self._queue.put_nowait((item, fut))
        except queue.Full:
            raise QueueFull(f"{self._queue.maxsize} requests are already waiting") from None
        return fut

    def stats(self) -> dict[str, float]:
        return {"batches": self._batches, "items": self._items, "largest_batch": self._largest,
                "mean_batch": round(self._items / self._batches, 3) if self._batches else 0.0,
                "queued": self._queue.qsize()}

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking items; the worker finishes what is queued, then exits."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def __enter__(self) -> "MicroBatcher[T, R]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the worker

    def _collect(self) -> tuple[list[tuple[T, Future]], bool]:
        """The next batch (blocking for its first item) and whether the batcher was closed meanwhile."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch, stop = [first], False
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        return batch, stop

    def _run(self) -> None:
        while True:
            batch, stop = self._collect()
            live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
            if live:
                self._answer(live)
            if stop:
                return

    def _answer(self, live: list[tuple[T, Future]]) -> None:
        self._batches += 1
        self._items += len(live)
        self._largest = max(self._largest, len(live))
        try:
            results = list(self.fn([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"the batch function answered {len(results)} results for {len(live)} items")
        except BaseException as e:  # every caller of the batch hears why
            for _, fut in live:
                fut.set_exception(e)
            return
        for (_, fut), res in zip(live, results):
            fut.set_result(res)
