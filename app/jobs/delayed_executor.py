"""A thread pool that can also run a task later: how the embedded default retries webhooks.

Its threads take tasks from one heap ordered by due time, so a retry waits there, not in
a sleeping thread; a task's label (its job id) lets a shutdown name the tasks it drops.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable

Task = Callable[[], None]

log = logging.getLogger(__name__)


class DelayedExecutor:
    def __init__(self, workers: int, name: str) -> None:
        self._heap: list[tuple[float, int, str, Task]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._closed = False
        self._running: list[str] = []
        for number in range(workers):
            threading.Thread(target=self._work, name=f"{name}_{number}", daemon=True).start()

    def submit(self, label: str, task: Task, delay: float = 0.0) -> None:
        """RuntimeError once closed, as ThreadPoolExecutor.submit after its shutdown."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), label, task))
            self._lock.notify_all()

    def close(self, deadline: float = 0.0) -> tuple[list[str], list[str]]:
        """Wait until nothing waits or runs (tasks may add others) or time.monotonic() is
        `deadline`, then drop what has not started: the labels of the dropped and the running."""
        with self._lock:
            self._lock.wait_for(lambda: not self._heap and not self._running,
                                max(0.0, deadline - time.monotonic()))
            self._closed = True
            dropped = [label for _, _, label, _ in self._heap]
            self._heap.clear()
            self._lock.notify_all()
            return dropped, list(self._running)

    def _work(self) -> None:
        with self._lock:
            while not self._closed:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, label, task = heapq.heappop(self._heap)
                self._running.append(label)
                self._lock.release()
                try:
                    task()
                except Exception:
                    log.exception("delayed task failed", extra={"label": label})
                finally:
                    self._lock.acquire()
                    self._running.remove(label)
                    self._lock.notify_all()
