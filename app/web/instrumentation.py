"""Around every request: its id, security headers, HTTP metrics and access line, as WSGI
middleware: Flask hooks cost a third of our per-request time (BENCHMARKS.md). Labels use
the route template, so a scan of random URLs cannot multiply the time series."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

from werkzeug.wsgi import get_path_info

from app.observability.logs import ACCESS_LOGGER, REQUEST_ID, access_line
from app.observability.metrics import UNMATCHED, Metrics, route_template
from app.web.request_id import ENVIRON_KEY, HEADER, request_id_for
from app.web.security_headers import add_security_headers

access_log = logging.getLogger(ACCESS_LOGGER)  # its level (LOG_LEVEL) turns the lines off
# Any other method is counted as "OTHER": clients must not be able to mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

StartResponse = Callable[..., Any]


class RequestCycle:
    def __init__(self, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]],
                 metrics: Metrics) -> None:
        self.wsgi_app = wsgi_app
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = environ[ENVIRON_KEY] = request_id_for(environ)
        seen: dict[str, Any] = {"status": 500, "endpoint": UNMATCHED}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status[:3])
            # Flask calls this inside its request context, where the routed request lives.
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            if rule is not None:
                seen["endpoint"] = route_template(rule.rule)
            headers.append((HEADER, request_id))
            add_security_headers(headers)
            return start_response(status, headers, exc_info)

        self.metrics.http_in_progress.inc()
        token = REQUEST_ID.set(request_id)
        try:
            return self.wsgi_app(environ, start)
        finally:
            REQUEST_ID.reset(token)
            self.metrics.http_in_progress.dec()
            elapsed = time.perf_counter() - started
            method = environ.get("REQUEST_METHOD", "")
            if method not in METHODS:
                method = "OTHER"
            outcome = "success" if seen["status"] < 400 else "error"
            self.metrics.http_requests.labels(method, seen["endpoint"], outcome).inc()
            self.metrics.http_duration.labels(method, seen["endpoint"]).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_line(request_id, {
                    "method": method, "path": get_path_info(environ)[:200],
                    "endpoint": seen["endpoint"], "status": seen["status"],
                    "duration_ms": round(elapsed * 1000, 3),
                    "remote_addr": environ.get("REMOTE_ADDR")})
