"""The application factory: settings from the environment, the shared services in
`app.extensions`, one blueprint per area. Tests pass `config=` overrides and `algorithms=`."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS, with_extras
from app.config import Settings
from app.docs import routes as docs_routes
from app.docs.openapi import build_spec
from app.extensions import EXTENSION_KEY, Scaffold
from app.health import routes as health_routes
from app.invoke import routes as invoke_routes
from app.jobs import routes as jobs_routes
from app.jobs.backend import JobBackend
from app.jobs.embedded import EmbeddedBackend
from app.jobs.rq_backend import RQBackend
from app.jobs.service import JobService
from app.observability.logs import configure_logging
from app.observability.metrics import Metrics
from app.web.auth import public_paths, register_auth
from app.web.body_deadline import BodyDeadline
from app.web.client_address import TrustedProxyFix
from app.web.errors import error_response
from app.web.instrumentation import RequestCycle
from app.web.limits import InvokeSlots
from app.webhooks import delivery


def create_app(config: Mapping[str, Any] | None = None,
               algorithms: Mapping[str, Algorithm] | None = None) -> Flask:
    settings = Settings.from_env().with_overrides(config)
    configure_logging(settings.log_level)

    app = Flask(__name__, static_folder=None)  # the docs blueprint serves its own files
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    registry = with_extras(algorithms if algorithms is not None else ALGORITHMS,
                           settings.extra_algorithms)
    if settings.default_algorithm not in registry:
        raise ValueError(f"DEFAULT_ALGORITHM {settings.default_algorithm!r} is not registered")
    metrics = Metrics()
    jobs = job_service(settings, registry, metrics)
    app.extensions[EXTENSION_KEY] = Scaffold(
        settings=settings, metrics=metrics, algorithms=registry, jobs=jobs,
        invoke_slots=InvokeSlots(settings.max_inflight_invoke),
        readiness_checks={"algorithm": lambda: _algorithms_answer(registry),
                          "jobs": jobs.backend.healthy})

    # Request ids, security headers, HTTP metrics and the access log wrap every request.
    app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
        RequestCycle(BodyDeadline(app.wsgi_app, settings.body_timeout_seconds), metrics),
        settings.forwarded_allow_ips)
    app.register_error_handler(Exception, error_response)
    register_auth(app, settings)
    for blueprint in (invoke_routes.bp, jobs_routes.bp, health_routes.bp, docs_routes.bp):
        app.register_blueprint(blueprint)
    health_routes.register_metrics_route(app, metrics)
    app.config[docs_routes.OPENAPI_KEY] = build_spec(app, registry, settings.default_algorithm,
                                                     public_paths(settings))
    return app


def job_service(settings: Settings, algorithms: Mapping[str, Algorithm],
                metrics: Metrics) -> JobService:
    """The job service on the backend the settings choose, its gauges in `metrics`."""
    backend: JobBackend
    if settings.redis_url:
        backend = RQBackend(settings)
    else:
        backend = EmbeddedBackend(settings, algorithms, metrics, delivery.sender_for(settings))
    metrics.sources.append(backend.metric_samples)
    return JobService(backend, algorithms, metrics, delivery.address_policy(settings),
                      settings.job_ttl_seconds, settings.max_params_bytes)


def shutdown(app: Flask, exit_within: float | None = None) -> bool:
    """gunicorn's worker_exit hook: finish or fail this process's jobs within `exit_within`
    seconds. False when threads still run (their jobs failed already): exit without them."""
    services: Scaffold = app.extensions[EXTENSION_KEY]
    return services.jobs.backend.shutdown(services.settings.shutdown_grace_seconds, exit_within)


def _algorithms_answer(algorithms: Mapping[str, Algorithm]) -> bool:
    """Ready when every algorithm answers its own example; not through `execute`, so
    probes do not count as executions."""
    for algorithm in algorithms.values():
        algorithm.run(algorithm.params_schema.load(algorithm.example))
    return bool(algorithms)
