"""The Prometheus metrics: every family, its series at 0 from the start, and the whole
/metrics body (`Metrics.collect`, which app/health/routes.py serves)."""
from __future__ import annotations

import os
import re
from collections import defaultdict
from itertools import product
from typing import Callable, Collection, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client import disable_created_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

Sample = tuple[str, dict[str, str], float]  # (sample name, labels, value)

UNMATCHED = "unmatched"  # the endpoint label of a request no route matched
OUTCOMES = ("success", "error")  # http_requests_total, algorithm_executions_total
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

# Families whose samples only the scrape-time sources give (name -> help text).
SCRAPE_TIME_GAUGES = {
    "jobs_queue_depth": "等待执行的异步任务数",
    "jobs_queue_oldest_age_seconds": "最早一个等待中任务已等待的秒数(无等待任务时为 0)",
    "service_ready": "就绪检查结果(1 通过,0 未通过),与 /readyz 相同",
}
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}

# `*_created` series double the output and mean nothing in multiprocess mode.
disable_created_metrics()


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def route_template(rule: str) -> str:
    """Flask's `/jobs/<job_id>` written the OpenAPI way: `/jobs/{job_id}`."""
    return _CONVERTER.sub(r"{\1}", rule)


def queue_samples(depth: int, oldest_created_at: float | None, now: float) -> list[Sample]:
    """The two queue gauges, from the number of waiting jobs and the oldest one's creation."""
    age = max(0.0, now - oldest_created_at) if oldest_created_at is not None else 0.0
    return [("jobs_queue_depth", {}, float(depth)), ("jobs_queue_oldest_age_seconds", {}, age)]


class Metrics:
    """One app's or worker's metric objects in their own registry, and the /metrics collector."""

    def __init__(self) -> None:
        if multiprocess_enabled() and values.ValueClass is values.MutexValue:
            raise RuntimeError("PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was "
                               "imported, so worker metrics would not be shared")
        self.registry = r = CollectorRegistry()
        self.http_requests = Counter("http_requests_total", "HTTP 请求总数",
                                     ["method", "endpoint", "status"], registry=r)
        self.http_duration = Histogram("http_request_duration_seconds", "HTTP 请求延迟",
                                       ["method", "endpoint"], registry=r)
        self.http_in_progress = Gauge("http_requests_in_progress", "当前进行中的请求数",
                                      registry=r, multiprocess_mode="livesum")
        self.algorithm_executions = Counter("algorithm_executions_total", "算法执行总数",
                                            ["algorithm", "status"], registry=r)
        self.algorithm_duration = Histogram("algorithm_execution_duration_seconds", "算法执行延迟",
                                            ["algorithm"], registry=r)
        self.jobs_created = Counter("jobs_created_total", "创建的异步任务总数", ["algorithm"],
                                    registry=r)
        self.jobs_completed = Counter("jobs_completed_total", "完成的异步任务总数",
                                      ["algorithm", "status"], registry=r)
        self.job_duration = Histogram("job_execution_duration_seconds", "异步任务执行时间",
                                      ["algorithm"], registry=r)
        self.webhook_deliveries = Counter("webhook_deliveries_total", "Webhook 回调发送总数",
                                          ["status"], registry=r)
        self.jobs_active = Gauge("jobs_active", "排队中与执行中的异步任务数", ["state"],
                                 registry=r, multiprocess_mode="livesum")
        # Called at every scrape; each returns its samples and must not raise.
        self.sources: list[Callable[[], Iterable[Sample]]] = []
        self.families = {f.name: (f.type, f.documentation) for f in r.collect()}
        self.families.update((name, ("gauge", doc)) for name, doc in SCRAPE_TIME_GAUGES.items())
        self.family_of = {name + suffix: name for name, (kind, _) in self.families.items()
                          for suffix in SUFFIXES[kind]}

    def start_at_zero(self, routes: list[tuple[str, set[str]]],
                      algorithms: Collection[str]) -> None:
        """Every series the service can name, at 0, so that `rate()` sees each first increment."""
        unmatched = set().union(*(methods for _, methods in routes))
        for endpoint, methods in [*routes, (UNMATCHED, unmatched)]:
            for method in methods:
                self.http_duration.labels(method, endpoint)
                for outcome in ("error",) if endpoint == UNMATCHED else OUTCOMES:
                    self.http_requests.labels(method, endpoint, outcome)
        for family, *label_values in (
            (self.algorithm_executions, algorithms, OUTCOMES),
            (self.algorithm_duration, algorithms),
            (self.jobs_created, algorithms),
            (self.jobs_completed, algorithms, ("completed", "failed", "cancelled")),
            (self.job_duration, algorithms),
            (self.webhook_deliveries, ("success", "failed")),
            (self.jobs_active, ("pending", "running")),
        ):
            for labels in product(*label_values):
                family.labels(*labels)

    def collect(self) -> Iterator[Metric]:
        """Every declared family, even empty, each series summed over processes and sources."""
        recorded = MultiProcessCollector(None) if multiprocess_enabled() else self.registry
        samples = [s[:3] for family in recorded.collect() for s in family.samples]
        totals: dict[tuple[str, tuple], float] = defaultdict(float)
        for name, labels, value in samples + [s for source in self.sources for s in source()]:
            if name in self.family_of:
                totals[name, tuple(sorted(labels.items()))] += value
        families = {name: Metric(name, doc, kind) for name, (kind, doc) in self.families.items()}
        for (name, labels), value in sorted(totals.items(), key=_series_order):
            families[self.family_of[name]].add_sample(name, dict(labels), value)
        yield from families.values()


def _series_order(item: tuple[tuple[str, tuple], float]) -> tuple:
    """By labels, then sample name, a histogram's buckets in ascending `le`."""
    (name, labels), _ = item
    le = dict(labels).get("le")
    return (tuple(kv for kv in labels if kv[0] != "le"), name, float(le) if le else 0.0)

