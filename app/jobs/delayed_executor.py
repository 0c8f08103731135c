"""A thread pool that can also run a task later: how the embedded default retries webhooks.

A retry waits in a heap, not in a sleeping thread; a task's label (its job id) lets a
shutdown name the tasks it drops.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

Task = Callable[[], None]

log = logging.getLogger(__name__)


class DelayedExecutor:
    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._heap: list[tuple[float, int, str, Task]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._closed = False
        self._running: dict[Future, str] = {}
        self._timer = threading.Thread(target=self._release_due, name=f"{name}-timer", daemon=True)
        self._timer.start()

    def submit(self, label: str, task: Task, delay: float = 0.0) -> None:
        """RuntimeError once closed, as ThreadPoolExecutor.submit after its shutdown."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            if delay <= 0:
                self._start_locked(label, task)
            else:
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), label, task))
                self._lock.notify_all()

    def drain(self, deadline: float) -> bool:
        """True once nothing waits or runs (tasks may add others), False at `deadline`."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._heap and not self._running,
                                       max(0.0, deadline - time.monotonic()))

    def close(self) -> tuple[list[str], list[str]]:
        """Drop what has not started: the labels of the dropped and the still running."""
        with self._lock:
            self._closed = True
            dropped = [label for _, _, label, _ in self._heap]
            self._heap.clear()
            self._lock.notify_all()
            # A cancelled future runs its done callback, _forget, which edits _running.
            dropped += [label for future, label in list(self._running.items()) if future.cancel()]
            running = list(self._running.values())
        self._pool.shutdown(wait=False)
        return dropped, running

    def _start_locked(self, label: str, task: Task) -> None:
        future = self._pool.submit(task)
        self._running[future] = label
        future.add_done_callback(self._forget)

    def _forget(self, future: Future) -> None:
        with self._lock:
            label = self._running.pop(future, None)
            self._lock.notify_all()
        if not future.cancelled() and future.exception() is not None:
            log.error("delayed task failed", extra={"label": label}, exc_info=future.exception())

    def _release_due(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, label, task = heapq.heappop(self._heap)
                    self._start_locked(label, task)
                self._lock.wait(self._heap[0][0] - now if self._heap else None)
