"""The embedded default's store: a dict behind one lock, with expiry.

`get` never returns an expired record; the sweeper only frees the memory, looking only at
the expired (deadlines are kept in finishing order). Records are kept as JSON bytes, one
block per job, so an expired burst leaves no fragmented heap (BENCHMARKS.md, memory).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
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
        self._expires_at: dict[str, float] = {}
        self._expiry_order: deque[tuple[float, str]] = deque()
        # Key -> (deadline, value): with one TTL for all, insertion order is deadline order.
        self._remembered: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def create(self, record: JobRecord) -> bool:
        with self._lock:
            self._sweep_locked()
            if record.job_id in self._jobs:
                return False
            if len(self._jobs) >= self.max_jobs:
                raise Refused(f"{self.max_jobs} live jobs")
            self._jobs[record.job_id] = record.to_json()
            return True

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._live(job_id)

    def transition(self, job_id: str, expected: Iterable[str], **changes: Any) -> JobRecord | None:
        with self._lock:
            record = self._live(job_id)
            if record is None or record.status not in expected:
                return None
            record = self._keep(replace(record, **changes))
            if record.status in FINISHED:
                deadline = self._clock() + self.ttl_seconds
                self._expires_at[job_id] = deadline
                self._expiry_order.append((deadline, job_id))
            return record

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        with self._lock:
            record = self._live(job_id)
            if record is not None:
                record = self._keep(replace(record, **changes))
            return record

    def ping(self) -> bool:
        return True

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        with self._lock:
            now = self._clock()
            kept = self._remembered.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
            self._remembered[key] = (now + ttl_seconds, value)
            self._remembered.move_to_end(key)
            return None

    def forget(self, key: str) -> None:
        with self._lock:
            self._remembered.pop(key, None)

    def sweep(self) -> int:
        """Drop every expired record; the number dropped."""
        with self._lock:
            dropped = self._sweep_locked()
            if dropped and not self._jobs:
                self._jobs = {}  # a dict never shrinks its table by itself
                self._expires_at = {}
        return dropped

    def _live(self, job_id: str) -> JobRecord | None:
        expires_at = self._expires_at.get(job_id)
        if expires_at is not None and expires_at <= self._clock():
            self._drop(job_id)
            return None
        raw = self._jobs.get(job_id)
        return JobRecord.from_json(raw) if raw is not None else None

    def _keep(self, record: JobRecord) -> JobRecord:
        self._jobs[record.job_id] = record.to_json()
        return record

    def _sweep_locked(self) -> int:
        now = self._clock()
        dropped = 0
        while self._remembered and next(iter(self._remembered.values()))[0] <= now:
            self._remembered.popitem(last=False)
        while self._expiry_order and self._expiry_order[0][0] <= now:
            deadline, job_id = self._expiry_order.popleft()
            if self._expires_at.get(job_id) == deadline:  # not already dropped by `_live`
                self._drop(job_id)
                dropped += 1
        return dropped

    def _drop(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._expires_at.pop(job_id, None)
