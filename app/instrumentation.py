"""Per-request bookkeeping: HTTP metrics and the one JSON access-log line.

Labels use the route template (`/jobs/{job_id}`), never the raw path, so a scan of
random URLs cannot blow up the number of time series.
"""
from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from typing import Any

from flask import Flask, Response, g, request

from app.metrics import Metrics

access_log = logging.getLogger("app.access")

UNMATCHED = "unmatched"
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@lru_cache(maxsize=256)
def route_template(rule: str) -> str:
    """Flask's `/jobs/<job_id>` written the OpenAPI way: `/jobs/{job_id}`."""
    return _CONVERTER.sub(r"{\1}", rule)


def register_instrumentation(app: Flask, metrics: Metrics) -> None:
    # Label lookups take a lock each time; the few series a route produces are kept.
    counters: dict[tuple[str, str, str], Any] = {}
    histograms: dict[tuple[str, str], Any] = {}

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()
        metrics.http_in_progress.inc()

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("started", None)
        if started is None:  # before_request never ran for this request
            return response
        metrics.http_in_progress.dec()
        elapsed = time.perf_counter() - started
        rule = request.url_rule
        endpoint = route_template(rule.rule) if rule is not None else UNMATCHED
        method = request.method
        outcome = "success" if response.status_code < 400 else "error"
        counter = counters.get((method, endpoint, outcome))
        if counter is None:
            counter = counters[method, endpoint, outcome] = metrics.http_requests.labels(
                method, endpoint, outcome)
        histogram = histograms.get((method, endpoint))
        if histogram is None:
            histogram = histograms[method, endpoint] = metrics.http_duration.labels(
                method, endpoint)
        counter.inc()
        histogram.observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={"method": method, "path": request.path[:200], "endpoint": endpoint,
                       "status": response.status_code, "duration_ms": round(elapsed * 1000, 3)},
            )
        return response
