"""Limits that keep a process answering under load and its memory bounded.

- /invoke runs at most `MAX_INFLIGHT_INVOKE` requests at once in each process. One
  more is answered at once with 503 SERVICE_UNAVAILABLE and `Retry-After`, rather
  than waiting: the caller (or its load balancer) can retry, and the threads left
  over keep /healthz, /readyz and /metrics answering while slow algorithms are busy.
  The default is gunicorn's thread count (GUNICORN_THREADS, 8), so under the
  Procfile's gthread worker /invoke may use every thread and is never refused: a
  lower default would refuse PrimeChecker calls the process could serve a few
  milliseconds later (with 6 of 8, 2-5 % of calls were 503 at 8-16 concurrent
  clients, far from overload). Deployments with slow algorithms set it below
  GUNICORN_THREADS (e.g. threads - 2) to keep threads for probes and scrapes.
- A job's params are stored until the job expires, so their JSON is bounded by
  `MAX_PARAMS_BYTES` (64 KiB): larger is 400 VALIDATION_ERROR on `params`. The job
  service calls `check_params_size` when it validates a new job.

Over-long request lines and headers never reach Flask: gunicorn refuses them, and
app.server_errors makes that refusal the JSON envelope.
"""
from __future__ import annotations

import json
import threading
from typing import Any

from flask import Flask, g, request

from app.config import Settings
from app.errors import ApiError, validation_error
from app.validation import echo

INVOKE_RULES = frozenset({"/invoke", "/invoke/<name>"})
RETRY_AFTER_SECONDS = 1


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON, the way a store would keep it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def check_params_size(params: Any, max_bytes: int) -> None:
    """400 VALIDATION_ERROR on `params` when their JSON is larger than `max_bytes`."""
    size = json_size(params)
    if size > max_bytes:
        raise validation_error(f"params must be at most {max_bytes} bytes of JSON, not {size}",
                               field="params", value=echo(params), max_bytes=max_bytes)


def busy() -> ApiError:
    return ApiError(503, "SERVICE_UNAVAILABLE", "服务繁忙,请稍后重试",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def register_limits(app: Flask, settings: Settings) -> None:
    """The /invoke in-flight limit: a slot is taken before the view and given back after."""
    if settings.max_inflight_invoke < 1 or settings.max_params_bytes < 1:
        raise ValueError("MAX_INFLIGHT_INVOKE and MAX_PARAMS_BYTES must be at least 1")
    slots = threading.BoundedSemaphore(settings.max_inflight_invoke)

    @app.before_request
    def take_invoke_slot() -> None:
        if request.url_rule is None or request.url_rule.rule not in INVOKE_RULES:
            return
        if not slots.acquire(blocking=False):
            raise busy()
        g.invoke_slot = True

    @app.teardown_request
    def give_back_invoke_slot(_exc: BaseException | None) -> None:
        if g.pop("invoke_slot", False):
            slots.release()
