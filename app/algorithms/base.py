"""What an algorithm provides (a params schema, a function to a JSON-able result); how it runs."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from marshmallow import Schema

from app.observability.metrics import Metrics


class AlgorithmInputError(ValueError):
    """Raised by an algorithm for input its schema could not rule out; the message is shown."""


@dataclass(frozen=True)
class Algorithm:
    name: str
    version: str
    description: str
    params_schema: Schema
    run: Callable[[dict[str, Any]], dict[str, Any]]
    # Parameters that must succeed: shown in the docs and run by the readiness check.
    example: dict[str, Any] = field(default_factory=dict)
    result_schema: Schema | None = None  # the result's shape, for the docs only
    # A running job may be cancelled (its result discarded), unless its side effects must finish.
    cancellable: bool = False


class Execution(NamedTuple):
    result: dict[str, Any]
    metadata: dict[str, Any]


def execute(algorithm: Algorithm, params: dict[str, Any], metrics: Metrics) -> Execution:
    """Run an algorithm on validated params, timed and counted; its exceptions propagate."""
    started = time.perf_counter()
    try:
        result = algorithm.run(params)
    except Exception:
        metrics.algorithm_executions.labels(algorithm.name, "error").inc()
        raise
    elapsed = time.perf_counter() - started
    metrics.algorithm_executions.labels(algorithm.name, "success").inc()
    metrics.algorithm_duration.labels(algorithm.name).observe(elapsed)
    return Execution(result, {"algorithm": algorithm.name, "version": algorithm.version,
                              "elapsed_time": elapsed})


def one_line_error(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line for clients: no traceback, no newlines."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, AlgorithmInputError):
        text = f"{type(exc).__name__}: {text}"
    return text[:limit]
