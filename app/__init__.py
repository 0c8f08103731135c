"""FunctionalScaffold: the application factory.

`create_app()` reads the settings from the environment, wires the shared services
(metrics, algorithms, readiness checks) into `app.extensions` and registers one
blueprint per area. Tests pass `config=` overrides and extra `algorithms=`.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS
from app.config import Settings
from app.errors import register_error_handlers
from app.extensions import EXTENSION_KEY, Scaffold
from app.instrumentation import register_instrumentation
from app.logs import configure_logging
from app.metrics import Metrics
from app.docs.routes import OPENAPI_KEY
from app.openapi import build_spec
from app.request_id import register_request_id

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
    if settings.default_algorithm not in registry:
        raise ValueError(f"DEFAULT_ALGORITHM {settings.default_algorithm!r} is not registered")
    services = Scaffold(settings=settings, metrics=Metrics(), algorithms=registry)
    app.extensions[EXTENSION_KEY] = services
    services.readiness_checks["algorithm"] = lambda: _algorithms_answer(services)

    register_request_id(app)
    register_instrumentation(app, services.metrics)
    register_error_handlers(app)
    register_blueprints(app)
    app.config[OPENAPI_KEY] = build_spec(services.algorithms, settings.default_algorithm)
    return app


def register_blueprints(app: Flask) -> None:
    from app import docs, health, invoke

    for module in (invoke, health, docs):
        app.register_blueprint(module.bp)


def _algorithms_answer(services: Scaffold) -> bool:
    """Ready when every algorithm answers its own example (microseconds for PrimeChecker).

    Run directly, not through `execute`, so probes do not count as executions.
    """
    for algorithm in services.algorithms.values():
        algorithm.run(algorithm.params_schema.load(algorithm.example))
    return bool(services.algorithms)
