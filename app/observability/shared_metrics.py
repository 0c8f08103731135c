"""Scale-out: the RQ workers' metrics in the Redis hash `fs:metrics`, which every web process
adds to its /metrics: workers may run on machines no PROMETHEUS_MULTIPROC_DIR is shared with."""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import redis
from prometheus_client import Histogram
from prometheus_client.utils import floatToGoString

from app.observability.metrics import Metrics, Sample

KEY = "fs:metrics"
# Metrics attribute -> (name, label names) of each family a worker records.
WORKER_FAMILIES = {
    "algorithm_executions": ("algorithm_executions_total", ("algorithm", "status")),
    "algorithm_duration": ("algorithm_execution_duration_seconds", ("algorithm",)),
    "jobs_completed": ("jobs_completed_total", ("algorithm", "status")),
    "job_duration": ("job_execution_duration_seconds", ("algorithm",)),
    "webhook_deliveries": ("webhook_deliveries_total", ("status",)),
}
_ADD_ALL = "for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end"


class MetricsBuffer:
    """A worker's increments, summed in memory and written in one round trip after each task."""

    def __init__(self, client: redis.Redis) -> None:
        self._add_all = client.register_script(_ADD_ALL)
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, sample: str, labels: dict[str, str], amount: float) -> None:
        key = json.dumps([sample, labels], sort_keys=True)  # the hash field
        with self._lock:
            self._pending[key] += amount

    def flush(self) -> None:
        """Write what was added; on a Redis error it is kept for the next flush."""
        with self._lock:
            if self._pending:
                self._add_all(keys=[KEY], args=[x for pair in self._pending.items() for x in pair])
                self._pending.clear()


@dataclass(frozen=True)
class _RedisFamily:
    """A worker family into the buffer, with prometheus_client's `labels`, `inc` and `observe`."""

    buffer: MetricsBuffer
    name: str  # the counter's sample name, or the histogram's name
    labelnames: Sequence[str]
    labelvalues: dict[str, str] = field(default_factory=dict)

    def labels(self, *values: str) -> _RedisFamily:
        return replace(self, labelvalues=dict(zip(self.labelnames, values)))

    def inc(self, amount: float = 1.0) -> None:
        self.buffer.add(self.name, self.labelvalues, amount)

    def observe(self, value: float) -> None:
        for bound in Histogram.DEFAULT_BUCKETS:  # the le labels prometheus_client writes
            if value <= bound:
                self.buffer.add(f"{self.name}_bucket",
                                {**self.labelvalues, "le": floatToGoString(bound)}, 1)
        self.buffer.add(f"{self.name}_sum", self.labelvalues, value)
        self.buffer.add(f"{self.name}_count", self.labelvalues, 1)


def worker_metrics(buffer: MetricsBuffer) -> Metrics:
    """A Metrics whose worker-side families go to Redis (the rest are never used there)."""
    metrics = Metrics()
    for attribute, (name, labelnames) in WORKER_FAMILIES.items():
        setattr(metrics, attribute, _RedisFamily(buffer, name, labelnames))
    return metrics


def redis_samples(client: redis.Redis) -> Iterator[Sample]:
    """Every sample the workers recorded, for the web's /metrics."""
    for key, value in client.hgetall(KEY).items():
        sample, labels = json.loads(key)
        yield sample, labels, float(value)
