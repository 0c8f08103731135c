"""Scale-out mode: metrics that RQ workers record, kept in Redis for every /metrics.

Workers may run on other machines than the web processes, so a shared
PROMETHEUS_MULTIPROC_DIR cannot carry their figures. Instead each worker-side
counter or histogram observation is added to the hash `fs:metrics` (HINCRBYFLOAT,
batched: see MetricsBuffer), and every web process adds that hash to its /metrics output, summed
with its own samples of the same family (algorithm_executions_total, for one, is
counted by web processes for /invoke and by workers for jobs).
"""
from __future__ import annotations

import json
import threading
from typing import Iterator, Sequence

import redis
from prometheus_client import Histogram

from app.metrics import Metrics

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
            with self.client.pipeline(transaction=False) as pipe:
                for field, amount in pending.items():
                    pipe.hincrbyfloat(KEY, field, amount)
                pipe.execute()
        except redis.RedisError:
            for field, amount in pending.items():
                self.add(field, amount)
            raise


class _Series:
    """One labelled series, with prometheus_client's `inc` / `observe` calls."""

    def __init__(self, buffer: MetricsBuffer, name: str, labels: dict[str, str]) -> None:
        self.buffer = buffer
        self.name = name
        self.labels = labels

    def inc(self, amount: float = 1.0) -> None:
        self.buffer.add(_field(self.name, self.labels), amount)

    def observe(self, value: float) -> None:
        for bound in BUCKETS:
            if value <= bound:
                le = "+Inf" if bound == float("inf") else repr(bound)
                self.buffer.add(_field(f"{self.name}_bucket", {**self.labels, "le": le}), 1)
        self.buffer.add(_field(f"{self.name}_sum", self.labels), value)
        self.buffer.add(_field(f"{self.name}_count", self.labels), 1)


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
