"""MicroBatcher: concurrent submissions share batches, results go to their own callers, errors to all."""

import threading
import time

import pytest

from fde_toolkit.serving.batcher import MicroBatcher, QueueFull


def test_concurrent_items_share_batches_and_keep_their_results():
    sizes = []

    def double(items):
        sizes.append(len(items))
        time.sleep(0.02)
        return [2 * i for i in items]

    with MicroBatcher(double, max_batch=8, max_wait_ms=20) as b:
        results = {}

        def call(i):
            results[i] = b.submit(i).result(timeout=10)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert results == {i: 2 * i for i in range(32)}
        assert max(sizes) > 1 and max(sizes) <= 8 and sum(sizes) == 32
        assert b.stats()["items"] == 32


def test_an_error_fails_every_item_of_its_batch_only():
    def fn(items):
        if "bad" in items:
            raise ValueError("bad item")
        return items

    with MicroBatcher(fn, max_batch=4, max_wait_ms=50) as b:
        futs = [b.submit(x) for x in ("a", "bad", "c")]
        for f in futs:
            with pytest.raises(ValueError):
                f.result(timeout=5)
        assert b.submit("d").result(timeout=5) == "d"


def test_a_full_queue_refuses_and_a_wrong_count_is_an_error():
    gate = threading.Event()

    def slow(items):
        gate.wait(5)
        return items

    b = MicroBatcher(slow, max_batch=1, max_wait_ms=0, queue_size=2)
    first = b.submit(1)
    time.sleep(0.05)  # the worker holds item 1; two more fill the queue
    b.submit(2), b.submit(3)
    with pytest.raises(QueueFull):
        b.submit(4)
    gate.set()
    assert first.result(timeout=5) == 1
    b.close()
    with pytest.raises(RuntimeError):
        b.submit(5)
    with MicroBatcher(lambda items: items[:-1], max_batch=2, max_wait_ms=30) as short:
        with pytest.raises(RuntimeError, match="results for"):
            short.submit(1).result(timeout=5)
