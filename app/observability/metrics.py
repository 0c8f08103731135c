"""The Prometheus metric families the API document lists, and their exposition.

prometheus-flask-exporter serves /metrics, with its own `flask_*` families off
(`export_defaults=False`). The families themselves are prometheus_client metrics:
the HTTP ones are recorded by app.web.instrumentation for every request, the others by
the job, algorithm and webhook code. Not the exporter's per-view wrappers
(`register_default`): they never see a request refused before its view (no route,
wrong method, no API key), and on /invoke they cost more than the limit the issue
sets allows (README, "Design decisions").

Under gunicorn every worker process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py before anything imports
prometheus_client), and /metrics sums them, so the figures are right whatever the
number of workers. Without that variable (tests, `flask run`) the registry is exposed.

The exposition is ours, because the exporter's cannot do it: a family no process
has written yet is shown empty, not left out, and in scale-out mode the RQ workers'
figures (`extra_samples`) are summed in.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Iterator

from flask import Flask
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
from prometheus_flask_exporter import PrometheusMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXPORTER_ENDPOINT = "prometheus_metrics"  # the name the exporter gives its view
Sample = tuple[str, dict[str, str], float]  # (sample name, labels, value)

UNMATCHED = "unmatched"  # the endpoint label of a request no route matched
# Any other method is counted as "OTHER": clients must not be able to mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

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


class Metrics:
    """One set of metric objects in their own registry (one per app or worker process)."""

    def __init__(self) -> None:
        if multiprocess_enabled() and values.ValueClass is values.MutexValue:
            raise RuntimeError(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported, so "
                "worker metrics would not be shared; set it before importing the app"
            )
        self.registry = r = CollectorRegistry()
        self.extra_samples: Callable[[], Iterable[Sample]] | None = None
        self.exporter = _Exporter(self, app=None, registry=r, export_defaults=False)
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
        # Beyond the documented nine: how much work waits and runs right now.
        self.jobs_active = Gauge(
            "jobs_active", "排队中与执行中的异步任务数", ["state"], registry=r,
            multiprocess_mode="livesum",
        )
        self.webhook_deliveries = Counter(
            "webhook_deliveries_total", "Webhook 回调发送总数", ["status"], registry=r
        )

    def serve(self, app: Flask) -> str:
        """/metrics on `app`, from the exporter; the endpoint name of its view."""
        self.exporter.init_app(app)
        return EXPORTER_ENDPOINT

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
        """The text exposition: this process's registry, or every worker's files summed,
        plus what `extra_samples` (scale-out mode: the RQ workers' figures) adds."""
        if multiprocess_enabled():
            families = list(_AllFamilies(MultiProcessCollector(None), self.registry).collect())
        else:
            families = list(self.registry.collect())
        if self.extra_samples is not None:
            families = merge(families, self.extra_samples())
        return generate_latest(_Fixed(families))


class _Exporter(PrometheusMetrics):
    """The exporter, with its /metrics body made by `Metrics.render`.

    Its own exposition would leave out the families nobody wrote yet, could not add
    the RQ workers' figures, and would switch to OpenMetrics when Prometheus asks for
    it, where the contract fixes `text/plain; version=0.0.4`.
    """

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    def generate_metrics(self, accept_header: str | None = None,
                         names: list[str] | None = None) -> tuple[bytes, str]:
        return self.metrics.render(), CONTENT_TYPE


class _Fixed:
    """Families already collected, in the shape generate_latest expects of a registry."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def merge(families: Iterable[Metric], extra: Iterable[Sample]) -> list[Metric]:
    """Add `extra` samples into the families they belong to, summing equal series."""
    merged: dict[str, Metric] = {}
    values: dict[str, dict[tuple, float]] = {}
    for family in families:
        merged[family.name] = Metric(family.name, family.documentation, family.type)
        series = values.setdefault(family.name, {})
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            series[key] = series.get(key, 0.0) + s.value
    for sample, labels, value in extra:
        family_name = _family_of(sample, merged)
        if family_name is None:
            continue
        key = (sample, tuple(sorted(labels.items())))
        values[family_name][key] = values[family_name].get(key, 0.0) + value
    for name, family in merged.items():
        for (sample, labels), value in sorted(values[name].items(), key=_bucket_order):
            family.add_sample(sample, dict(labels), value)
    return list(merged.values())


def _family_of(sample: str, families: dict[str, Metric]) -> str | None:
    for suffix in ("_total", "_bucket", "_sum", "_count", ""):
        if suffix and sample.endswith(suffix) and sample[: -len(suffix)] in families:
            return sample[: -len(suffix)]
    return sample if sample in families else None


def _bucket_order(item: tuple[tuple[str, tuple], float]) -> tuple:
    (sample, labels), _ = item
    others = tuple((k, v) for k, v in labels if k != "le")
    le = dict(labels).get("le")
    return (others, sample, float(le) if le is not None else 0.0)


class _AllFamilies:
    """Every worker's samples, plus an empty family for each metric nobody has written yet.

    The multiprocess collector only knows series that some process wrote, so without
    this the job and webhook families would be missing (not zero) until the first job.
    """

    def __init__(self, samples: MultiProcessCollector, declared: CollectorRegistry) -> None:
        self.samples = samples
        self.declared = declared

    def collect(self) -> Iterator[Metric]:
        seen = set()
        for family in self.samples.collect():
            seen.add(family.name)
            yield family
        for family in self.declared.collect():
            if family.name not in seen:
                yield Metric(family.name, family.documentation, family.type)
