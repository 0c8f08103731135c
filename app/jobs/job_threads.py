"""The embedded default's job threads: a fixed number of them taking job ids from one queue.

Not a ThreadPoolExecutor: there, each waiting job holds a Future (with its Condition,
RLock and deque) and a work item, and each job takes the executor's idle semaphore;
here a waiting job is its id in a deque. Measured side by side under load with the
default limits, jobs ran ~1.5x as fast and left less heap behind (bench/findings.md).

Every job id is, at any moment, either waiting, running, or handed back by `stop`:
all three change under one lock, so shutdown can account for each job.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

log = logging.getLogger(__name__)


class JobThreads:
    def __init__(self, count: int, run: Callable[[str], None], name: str) -> None:
        self._run = run
        self._changed = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, job_id: str) -> None:
        with self._changed:
            self._waiting.append(job_id)
            self._changed.notify()

    def waiting(self) -> int:
        """How many jobs wait for a thread (what MAX_QUEUE bounds)."""
        with self._changed:
            return len(self._waiting)

    def stop(self) -> list[str]:
        """Start nothing more; the ids that were waiting, which will never run here."""
        with self._changed:
            self._stopping = True
            waiting = list(self._waiting)
            self._waiting.clear()
            self._changed.notify_all()
        return waiting

    def wait_running(self, timeout: float) -> set[str]:
        """After `stop`: wait up to `timeout` s for the running jobs; those still running."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._changed:
            return set(self._running)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                job_id = self._waiting.popleft()
                self._running.add(job_id)
            try:
                self._run(job_id)
            except Exception:  # a bug in the job path must not cost the pool a thread
                log.exception("job thread error", extra={"job_id": job_id})
            finally:
                with self._changed:
                    self._running.discard(job_id)
