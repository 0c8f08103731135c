"""FunctionalScaffold: the application factory.

`create_app()` reads the settings from the environment, wires the shared services
(metrics, algorithms, readiness checks) into `app.extensions` and registers one
blueprint per area. Tests pass `config=` overrides and extra `algorithms=`.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Mapping

from flask import Flask

from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS
from app.config import Settings
from app.errors import register_error_handlers
from app.extensions import EXTENSION_KEY, Scaffold
from app.instrumentation import register_instrumentation
from app.jobs.embedded import EmbeddedBackend
from app.jobs.service import JobService
from app.logs import configure_logging
from app.metrics import Metrics
from app.docs.routes import OPENAPI_KEY
from app.openapi import build_spec
from app.request_id import register_request_id
from app.webhooks.address_policy import AddressPolicy
from app.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)


def create_app(
    config: Mapping[str, Any] | None = None,
    algorithms: Mapping[str, Algorithm] | None = None,
) -> Flask:
    settings = Settings.from_env().with_overrides(config)
    configure_logging(settings.log_level)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    registry = dict(algorithms if algorithms is not None else ALGORITHMS)
    registry.update(load_extra_algorithms(settings.extra_algorithms))
    if settings.default_algorithm not in registry:
        raise ValueError(f"DEFAULT_ALGORITHM {settings.default_algorithm!r} is not registered")
    services = Scaffold(settings=settings, metrics=Metrics(), algorithms=registry)
    app.extensions[EXTENSION_KEY] = services
    services.readiness_checks["algorithm"] = lambda: _algorithms_answer(services)
    register_jobs(services)

    register_request_id(app)
    register_instrumentation(app, services.metrics)
    register_error_handlers(app)
    register_blueprints(app)
    app.config[OPENAPI_KEY] = build_spec(services.algorithms, settings.default_algorithm)
    return app


def register_blueprints(app: Flask) -> None:
    from app import docs, health, invoke, jobs

    for module in (invoke, jobs, health, docs):
        app.register_blueprint(module.bp)


def register_jobs(services: Scaffold) -> None:
    """The job service on the backend the settings choose, and its readiness check."""
    settings = services.settings
    policy = AddressPolicy(settings.webhook_allow_private, settings.webhook_allowed_hosts)
    sender = WebhookSender(policy, settings.webhook_timeout_seconds, settings.webhook_secret)
    backend = EmbeddedBackend(settings, services.algorithms, services.metrics, sender)
    services.jobs = JobService(backend, services.algorithm, services.metrics, policy)
    services.readiness_checks["jobs"] = backend.healthy


def shutdown(app: Flask) -> bool:
    """Called by gunicorn's worker_exit hook: finish or fail the jobs this process took.

    False when job threads are still running (marked failed already): the caller
    should then exit without waiting for them.
    """
    services: Scaffold = app.extensions[EXTENSION_KEY]
    return services.jobs.backend.shutdown(services.settings.shutdown_grace_seconds)


def load_extra_algorithms(specs: tuple[str, ...]) -> dict[str, Algorithm]:
    """EXTRA_ALGORITHMS=package.module:ATTRIBUTE,... : algorithms shipped outside this repo."""
    loaded = {}
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        algorithm = getattr(importlib.import_module(module_name), attribute or "ALGORITHM")
        if not isinstance(algorithm, Algorithm):
            raise TypeError(f"{spec} is not an Algorithm")
        loaded[algorithm.name] = algorithm
    return loaded


def _algorithms_answer(services: Scaffold) -> bool:
    """Ready when every algorithm answers its own example (microseconds for PrimeChecker).

    Run directly, not through `execute`, so probes do not count as executions.
    """
    for algorithm in services.algorithms.values():
        algorithm.run(algorithm.params_schema.load(algorithm.example))
    return bool(services.algorithms)
