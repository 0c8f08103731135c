"""The Prometheus metrics: every family, the series known up front, and the /metrics body.

Read top to bottom:
- `Metrics` declares the families (prometheus_client metrics in a registry of their
  own). The HTTP ones are recorded by app.web.instrumentation for every request, the
  others by the job, algorithm and webhook code. Not prometheus-flask-exporter's
  per-view wrappers: they never see a request refused before its view (no route, wrong
  method, no API key) and cost too much on /invoke (README, "Design decisions").
- `Metrics.start_at_zero` creates every series the service can name before its first
  request, at 0, as Prometheus's instrumentation guidance asks: a series that appears
  only with its first increment hides that increment from `rate()` and `increase()`.
- `Metrics.render` is the /metrics body, built by one collector (`_Exposition`): the
  samples this process recorded (under gunicorn, every worker's files in
  PROMETHEUS_MULTIPROC_DIR, summed), plus what the scrape-time `sources` report (the
  RQ workers' figures from Redis, the job queue, readiness), summed into the family
  each belongs to, every family listed even when empty, always in the text format
  0.0.4. prometheus-flask-exporter serves it (its own `flask_*` families off).
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Sample = tuple[str, dict[str, str], float]  # (sample name, labels, value)
SampleSource = Callable[[], Iterable[Sample]]

UNMATCHED = "unmatched"  # the endpoint label of a request no route matched
# Any other method is counted as "OTHER": clients must not be able to mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

# The documented label values.
OUTCOMES = ("success", "error")  # http_requests_total, algorithm_executions_total
JOB_END_STATUSES = ("completed", "failed", "cancelled")  # jobs_completed_total
WEBHOOK_OUTCOMES = ("success", "failed")  # webhook_deliveries_total
JOB_STATES = ("pending", "running")  # jobs_active

# Families whose samples only the scrape-time sources give (name -> help text).
SCRAPE_TIME_GAUGES = {
    "jobs_queue_depth": "等待执行的异步任务数",
    "jobs_queue_oldest_age_seconds": "最早一个等待中任务已等待的秒数(无等待任务时为 0)",
    "service_ready": "就绪检查结果(1 通过,0 未通过),与 /readyz 相同",
}

# `*_created` series double the output and mean nothing in multiprocess mode.
disable_created_metrics()


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def route_template(rule: str) -> str:
    """Flask's `/jobs/<job_id>` written the OpenAPI way: `/jobs/{job_id}`."""
    return _CONVERTER.sub(r"{\1}", rule)


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def outcome_label(status: int) -> str:
    return "success" if status < 400 else "error"


def queue_samples(depth: int, oldest_created_at: float | None, now: float) -> list[Sample]:
    """The two queue gauges, from the number of waiting jobs and the oldest one's creation."""
    age = max(0.0, now - oldest_created_at) if oldest_created_at is not None else 0.0
    return [("jobs_queue_depth", {}, float(depth)), ("jobs_queue_oldest_age_seconds", {}, age)]


class Metrics:
    """One set of metric objects in their own registry (one per app or worker process)."""

    def __init__(self) -> None:
        if multiprocess_enabled() and values.ValueClass is values.MutexValue:
            raise RuntimeError(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported, so "
                "worker metrics would not be shared; set it before importing the app"
            )
        self.registry = r = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests_total", "HTTP 请求总数", ["method", "endpoint", "status"], registry=r
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds", "HTTP 请求延迟", ["method", "endpoint"], registry=r
        )
        self.http_in_progress = Gauge(
            "http_requests_in_progress", "当前进行中的请求数", registry=r, multiprocess_mode="livesum"
        )
        self.algorithm_executions = Counter(
            "algorithm_executions_total", "算法执行总数", ["algorithm", "status"], registry=r
        )
        self.algorithm_duration = Histogram(
            "algorithm_execution_duration_seconds", "算法执行延迟", ["algorithm"], registry=r
        )
        self.jobs_created = Counter(
            "jobs_created_total", "创建的异步任务总数", ["algorithm"], registry=r
        )
        self.jobs_completed = Counter(
            "jobs_completed_total", "完成的异步任务总数", ["algorithm", "status"], registry=r
        )
        self.job_duration = Histogram(
            "job_execution_duration_seconds", "异步任务执行时间", ["algorithm"], registry=r
        )
        self.webhook_deliveries = Counter(
            "webhook_deliveries_total", "Webhook 回调发送总数", ["status"], registry=r
        )
        # Beyond the documented nine: how much work waits and runs right now.
        self.jobs_active = Gauge(
            "jobs_active", "排队中与执行中的异步任务数", ["state"], registry=r,
            multiprocess_mode="livesum",
        )
        # name -> (type, help) of every family /metrics lists, in this order.
        self.families = {f.name: (f.type, f.documentation) for f in r.collect()}
        self.families.update((name, ("gauge", doc)) for name, doc in SCRAPE_TIME_GAUGES.items())
        # Called at every scrape; each returns its samples and must not raise.
        self.sources: list[SampleSource] = []
        self.exposition = CollectorRegistry(auto_describe=False)
        self.exposition.register(_Exposition(self))

    def start_at_zero(self, routes: Mapping[str, Iterable[str]], algorithms: Iterable[str]) -> None:
        """Create every series the service can name up front, at 0.

        Under gunicorn each worker writes these zeros to its own files; the sums are
        unchanged. Label values nobody can know up front (raw client input) never appear.
        """
        for endpoint, methods in routes.items():
            for method in methods:
                self.http_duration.labels(method, endpoint)
                for outcome in ("error",) if endpoint == UNMATCHED else OUTCOMES:
                    self.http_requests.labels(method, endpoint, outcome)
        for name in algorithms:
            for outcome in OUTCOMES:
                self.algorithm_executions.labels(name, outcome)
            for status in JOB_END_STATUSES:
                self.jobs_completed.labels(name, status)
            self.algorithm_duration.labels(name)
            self.jobs_created.labels(name)
            self.job_duration.labels(name)
        for outcome in WEBHOOK_OUTCOMES:
            self.webhook_deliveries.labels(outcome)
        for state in JOB_STATES:
            self.jobs_active.labels(state)

    def count_request(self, method: str, endpoint: str, status: int, elapsed: float) -> None:
        self.series(self.http_requests, method, endpoint, outcome_label(status)).inc()
        self.series(self.http_duration, method, endpoint).observe(elapsed)

    def series(self, family: Counter | Gauge | Histogram, *labels: str) -> Any:
        """One labelled series of a family (`family.labels(*labels)`).

        The job and algorithm code records through this, so that scale-out workers can
        hand in families that write to Redis (app.observability.shared_metrics) instead.
        """
        return family.labels(*labels)

    def render(self) -> bytes:
        return generate_latest(self.exposition)


class _Exposition:
    """The collector behind /metrics (a prometheus_client custom collector)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Every declared family, each sample summed over this process (or every
        gunicorn worker) and the scrape-time sources."""
        totals: dict[str, dict[tuple[str, tuple], float]] = {name: {} for name in self.metrics.families}

        def add(family: str | None, sample: str, labels: dict[str, str], value: float) -> None:
            if family in totals:
                key = (sample, tuple(sorted(labels.items())))
                totals[family][key] = totals[family].get(key, 0.0) + value

        recorded = (MultiProcessCollector(None) if multiprocess_enabled() else self.metrics.registry)
        for family in recorded.collect():
            for s in family.samples:
                add(family.name, s.name, s.labels, s.value)
        for source in self.metrics.sources:
            for sample, labels, value in source():
                add(_family_of(sample, totals), sample, labels, value)
        for name, (kind, documentation) in self.metrics.families.items():
            metric = Metric(name, documentation, kind)
            for (sample, labels), value in sorted(totals[name].items(), key=_bucket_order):
                metric.add_sample(sample, dict(labels), value)
            yield metric


def _family_of(sample: str, families: Mapping[str, Any]) -> str | None:
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if sample.endswith(suffix) and sample[: -len(suffix)] in families:
            return sample[: -len(suffix)]
    return sample if sample in families else None


def _bucket_order(item: tuple[tuple[str, tuple], float]) -> tuple:
    """Series by their labels, a histogram's buckets in ascending `le` (then _sum, _count)."""
    (sample, labels), _ = item
    others = tuple((k, v) for k, v in labels if k != "le")
    le = dict(labels).get("le")
    return (others, sample, float(le) if le is not None else 0.0)
