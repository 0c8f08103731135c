"""A thread pool that can also run a task later: how the embedded default retries webhooks.

A retry waits in a heap, not in a sleeping thread, so a receiver that keeps failing
holds no worker between attempts.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable

Task = Callable[[], None]


class DelayedExecutor:
    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._heap: list[tuple[float, int, Task]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._closed = False
        self._futures: set[Future] = set()
        self._timer = threading.Thread(target=self._release_due, name=f"{name}-timer", daemon=True)
        self._timer.start()

    def submit(self, task: Task, delay: float = 0.0) -> bool:
        """Run `task` after `delay` seconds; False if the executor is shutting down."""
        with self._lock:
            if self._closed:
                return False
            if delay <= 0:
                self._start_locked(task)
            else:
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), task))
                self._lock.notify()
            return True

    def shutdown(self, timeout: float) -> int:
        """Drop what waits for later, let what is due finish for up to `timeout` s.

        Returns how many scheduled tasks were dropped.
        """
        with self._lock:
            self._closed = True
            dropped = len(self._heap)
            self._heap.clear()
            self._lock.notify()
            running = set(self._futures)
        self._pool.shutdown(wait=False)
        wait(running, timeout)
        return dropped

    def _start_locked(self, task: Task) -> None:
        future = self._pool.submit(task)
        self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def _release_due(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    self._start_locked(heapq.heappop(self._heap)[2])
                self._lock.wait(self._heap[0][0] - now if self._heap else None)
