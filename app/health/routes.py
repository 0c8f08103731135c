"""Liveness and readiness: what orchestrators call (/metrics is app.metrics' exporter's)."""
from __future__ import annotations

import logging
import time

from flask import Response, jsonify

from app.extensions import scaffold
from app.health import bp
from app.health.schemas import HealthResponse, ReadinessResponse

log = logging.getLogger(__name__)
health_response = HealthResponse()
readiness_response = ReadinessResponse()


@bp.get("/healthz")
def healthz() -> Response:
    """Alive while the process serves requests; checks nothing else on purpose."""
    return jsonify(health_response.dump({"status": "healthy", "timestamp": time.time()}))


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when every registered check passes (algorithms, and the job backend)."""
    checks = {name: _passes(name, check) for name, check in scaffold().readiness_checks.items()}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not_ready", "timestamp": time.time(), "checks": checks}
    response = jsonify(readiness_response.dump(body))
    response.status_code = 200 if ready else 503
    return response


def _passes(name: str, check) -> bool:
    try:
        return bool(check())
    except Exception:
        log.warning("readiness check failed", extra={"check": name}, exc_info=True)
        return False
