"""Scale-out mode: metrics that RQ workers record, kept in Redis for every /metrics.

Workers may run on other machines than the web processes, so a shared
PROMETHEUS_MULTIPROC_DIR cannot carry their figures. Instead each worker-side
counter or histogram observation is added to the hash `fs:metrics` (HINCRBYFLOAT,
batched: see MetricsBuffer), and every web process reads that hash at each scrape
(`redis_samples`, one of `Metrics.sources`), summed with its own samples of the same
family (algorithm_executions_total, for one, is counted by web processes for /invoke
and by workers for jobs).
"""
from __future__ import annotations

import json
import threading
from typing import Iterator, Sequence

import redis
from prometheus_client import Histogram

from app.observability.metrics import Metrics

KEY = "fs:metrics"
# The families a worker records; the rest (HTTP, jobs_created_total) stay web-side.
# Metrics attribute -> (sample name, or histogram name, for Redis; label names).
WORKER_FAMILIES = {
    "algorithm_executions": ("algorithm_executions_total", ("algorithm", "status")),
    "algorithm_duration": ("algorithm_execution_duration_seconds", ("algorithm",)),
    "jobs_completed": ("jobs_completed_total", ("algorithm", "status")),
    "job_duration": ("job_execution_duration_seconds", ("algorithm",)),
    "webhook_deliveries": ("webhook_deliveries_total", ("status",)),
}
_HINCRBYFLOAT_ALL = """
for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""
BUCKETS = [*Histogram.DEFAULT_BUCKETS[:-1], float("inf")]


def _field(sample: str, labels: dict[str, str]) -> str:
    return json.dumps([sample, labels], sort_keys=True)


class MetricsBuffer:
    """Worker-side increments, summed in memory and written to Redis in one pipeline.

    A job records several samples; one HINCRBYFLOAT round trip each was a large part of
    a job's cost. The worker flushes once at the end of each task (app/jobs/tasks.py).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        # One command and one reply for the ~40 fields a job touches, not 40 of each.
        self._add_all = client.register_script(_HINCRBYFLOAT_ALL)
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, field: str, amount: float) -> None:
        with self._lock:
            self._pending[field] = self._pending.get(field, 0.0) + amount

    def flush(self) -> None:
        """Write what was added; on a Redis error it is kept for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self._add_all(keys=[KEY], args=[x for pair in pending.items() for x in pair])
        except redis.RedisError:
            for field, amount in pending.items():
                self.add(field, amount)
            raise


class _Series:
    """One labelled series, with prometheus_client's `inc` / `observe` calls, adding to
    the hash fields of its samples."""

    def __init__(self, buffer: MetricsBuffer, name: str, labels: dict[str, str]) -> None:
        self.buffer = buffer
        self.field = _field(name, labels)
        self.buckets = [(bound, _field(f"{name}_bucket", {**labels, "le": _le(bound)}))
                        for bound in BUCKETS]
        self.sum_field = _field(f"{name}_sum", labels)
        self.count_field = _field(f"{name}_count", labels)

    def inc(self, amount: float = 1.0) -> None:
        self.buffer.add(self.field, amount)

    def observe(self, value: float) -> None:
        for bound, field in self.buckets:
            if value <= bound:
                self.buffer.add(field, 1)
        self.buffer.add(self.sum_field, value)
        self.buffer.add(self.count_field, 1)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class _RedisFamily:
    def __init__(self, buffer: MetricsBuffer, name: str, labelnames: Sequence[str]) -> None:
        self.buffer = buffer
        self.name = name
        self.labelnames = labelnames

    def labels(self, *values: str) -> _Series:
        return _Series(self.buffer, self.name, dict(zip(self.labelnames, values)))


def worker_metrics(buffer: MetricsBuffer) -> Metrics:
    """A Metrics whose worker-side families go to Redis (the rest are never used there)."""
    metrics = Metrics()
    for attribute, (name, labelnames) in WORKER_FAMILIES.items():
        setattr(metrics, attribute, _RedisFamily(buffer, name, labelnames))
    return metrics


def redis_samples(client: redis.Redis) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every (sample name, labels, value) the workers recorded, for the web's /metrics."""
    for field, value in client.hgetall(KEY).items():
        sample, labels = json.loads(field)
        yield sample, labels, float(value)
