"""Scale-out mode: metrics that RQ workers record, kept in Redis for every /metrics.

Workers may run on other machines than the web processes, so a shared
PROMETHEUS_MULTIPROC_DIR cannot carry their figures. Instead each worker-side
counter or histogram observation is one HINCRBYFLOAT pipeline on the hash
`fs:metrics`, and every web process adds that hash to its /metrics output, summed
with its own samples of the same family (algorithm_executions_total, for one, is
counted by web processes for /invoke and by workers for jobs).
"""
from __future__ import annotations

import json
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


class _Series:
    """One labelled series in Redis, with prometheus_client's `inc` / `observe` calls."""

    def __init__(self, client: redis.Redis, name: str, labels: dict[str, str]) -> None:
        self.client = client
        self.name = name
        self.labels = labels

    def inc(self, amount: float = 1.0) -> None:
        self.client.hincrbyfloat(KEY, _field(self.name, self.labels), amount)

    def observe(self, value: float) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for bound in BUCKETS:
                if value <= bound:
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    pipe.hincrbyfloat(KEY, _field(f"{self.name}_bucket", {**self.labels, "le": le}), 1)
            pipe.hincrbyfloat(KEY, _field(f"{self.name}_sum", self.labels), value)
            pipe.hincrbyfloat(KEY, _field(f"{self.name}_count", self.labels), 1)
            pipe.execute()


class _RedisFamily:
    def __init__(self, client: redis.Redis, name: str, labelnames: Sequence[str]) -> None:
        self.client = client
        self.name = name
        self.labelnames = labelnames

    def labels(self, *values: str) -> _Series:
        return _Series(self.client, self.name, dict(zip(self.labelnames, values)))


def worker_metrics(client: redis.Redis) -> Metrics:
    """A Metrics whose worker-side families write to Redis (the rest are never used there)."""
    metrics = Metrics()
    for attribute, (name, labelnames) in WORKER_FAMILIES.items():
        setattr(metrics, attribute, _RedisFamily(client, name, labelnames))
    return metrics


def redis_samples(client: redis.Redis) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every (sample name, labels, value) the workers recorded, for the web's /metrics."""
    for field, value in client.hgetall(KEY).items():
        sample, labels = json.loads(field)
        yield sample, labels, float(value)
