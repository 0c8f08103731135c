"""The embedded default's store: a dict behind one lock, with expiry.

`get` never returns an expired record; the sweeper only frees the memory, looking only at
the expired (deadlines are kept in finishing order). Records are kept as JSON bytes, one
block per job, so an expired burst leaves no fragmented heap (BENCHMARKS.md, memory).
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Callable, Iterable

from app.jobs.model import FINISHED, JobRecord
from app.jobs.backend import Refused


class MemoryJobStore:
    def __init__(self, ttl_seconds: float, max_jobs: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_jobs = max_jobs
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, bytes] = {}
        # Deadlines of finished jobs, and idempotency keys -> (deadline, value): with one
        # TTL for all, the order they were set in is the order they fall in.
        self._expires_at: OrderedDict[str, float] = OrderedDict()
        self._remembered: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def create(self, record: JobRecord) -> bool:
        self.sweep()  # MAX_JOBS counts live jobs only
        with self._lock:
            if record.job_id in self._jobs:
                return False
            if len(self._jobs) >= self.max_jobs:
                raise Refused(f"{self.max_jobs} live jobs")
            self._jobs[record.job_id] = record.to_json()
            return True

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._live(job_id)

    def transition(self, job_id: str, expected: Iterable[str] | None,
                   **changes: Any) -> JobRecord | None:
        with self._lock:
            old = self._live(job_id)
            if old is None or (expected is not None and old.status not in expected):
                return None
            new = replace(old, **changes)
            self._jobs[job_id] = new.to_json()
            if new.status in FINISHED and old.status not in FINISHED:
                self._expires_at[job_id] = self._clock() + self.ttl_seconds
            return new

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        return self.transition(job_id, None, **changes)

    def ping(self) -> bool:
        return True

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        self.sweep()  # an expired key is a free one
        with self._lock:
            if key in self._remembered:
                return self._remembered[key][1]
            self._remembered[key] = (self._clock() + ttl_seconds, value)
            return None

    def forget(self, key: str) -> None:
        with self._lock:
            self._remembered.pop(key, None)

    def sweep(self) -> int:
        """Drop every expired record; the number dropped."""
        with self._lock:
            now = self._clock()
            while self._remembered and next(iter(self._remembered.values()))[0] <= now:
                self._remembered.popitem(last=False)
            dropped = 0
            while self._expires_at and next(iter(self._expires_at.values())) <= now:
                del self._jobs[self._expires_at.popitem(last=False)[0]]
                dropped += 1
            if dropped and not self._jobs:
                self._jobs = {}  # a dict never shrinks its table by itself
                self._expires_at = OrderedDict()
        return dropped

    def _live(self, job_id: str) -> JobRecord | None:
        raw = self._jobs.get(job_id)
        if raw is None or self._expires_at.get(job_id, math.inf) <= self._clock():
            return None
        return JobRecord.from_json(raw)
