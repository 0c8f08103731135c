"""Liveness, readiness and metrics: what orchestrators and Prometheus call."""
from __future__ import annotations

import logging
import time
from typing import Callable

from flask import Blueprint, Flask, Response, jsonify
from prometheus_client import generate_latest
from prometheus_flask_exporter import PrometheusMetrics

from app.docs.operations import AUTOMATIC_METHODS, operation
from app.extensions import EXTENSION_KEY, Scaffold, scaffold
from app.health.schemas import HealthResponse, ReadinessResponse
from app.observability.metrics import Metrics, route_template


bp = Blueprint("health", __name__)

log = logging.getLogger(__name__)
health_response = HealthResponse()
readiness_response = ReadinessResponse()


@bp.get("/healthz")
@operation("Health", "存活检查", "health_check", {200: ("HealthResponse", "存活")})
def healthz() -> Response:
    """Alive while the process serves requests; checks nothing else on purpose."""
    return jsonify(health_response.dump({"status": "healthy", "timestamp": time.time()}))


@bp.get("/readyz")
@operation("Health", "就绪检查", "readiness_check",
           {200: ("ReadinessResponse", "就绪"), 503: ("ReadinessResponse", "未就绪")})
def readyz() -> tuple[Response, int]:
    """Ready when every registered check passes (algorithms, and the job backend)."""
    checks = {name: _passes(name, check) for name, check in scaffold().readiness_checks.items()}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not_ready", "timestamp": time.time(), "checks": checks}
    return jsonify(readiness_response.dump(body)), 200 if ready else 503


def _passes(name: str, check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        log.warning("readiness check failed", extra={"check": name}, exc_info=True)
        return False


def register_metrics_route(app: Flask, metrics: Metrics) -> None:
    """/metrics, registered once every route is, so that every route's series start at 0."""
    MetricsExporter(app, registry=metrics, export_defaults=False, metrics_decorator=operation(
        "Monitoring", "Prometheus 指标", "metrics",
        {200: ({"type": "string"}, "Prometheus text format 0.0.4")}, content_type="text/plain"))
    services: Scaffold = app.extensions[EXTENSION_KEY]
    # service_ready{check}: what /readyz would answer now, for alerts and dashboards.
    metrics.sources.append(lambda: [("service_ready", {"check": name}, float(_passes(name, check)))
                                    for name, check in services.readiness_checks.items()])
    metrics.start_at_zero([(route_template(rule.rule), (rule.methods or set()) - AUTOMATIC_METHODS)
                           for rule in app.url_map.iter_rules()], services.algorithms)


class MetricsExporter(PrometheusMetrics):
    """prometheus-flask-exporter's /metrics route, serving `Metrics.collect` in the text format
    0.0.4 the contract fixes, where the exporter's would switch to OpenMetrics on request."""

    def generate_metrics(self, accept_header: str | None = None,
                         names: list[str] | None = None) -> tuple[bytes, str]:
        return generate_latest(self.registry), "text/plain; version=0.0.4; charset=utf-8"
