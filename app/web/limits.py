"""Limits that keep a process answering under load and its memory bounded.

- /invoke runs at most `MAX_INFLIGHT_INVOKE` algorithm calls at once in each process. One
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
  service calls `app.validation.check_params_size` when it validates a new job.

Over-long request lines and headers never reach Flask: gunicorn refuses them, and
app.serving.server_errors makes that refusal the JSON envelope.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from app.web.errors import ApiError

RETRY_AFTER_SECONDS = 1


def busy() -> ApiError:
    return ApiError(503, "SERVICE_UNAVAILABLE", "服务繁忙,请稍后重试",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class InvokeSlots:
    """The /invoke in-flight limit of one process: `with slots.taken():` around a run."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("MAX_INFLIGHT_INVOKE must be at least 1")
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def taken(self) -> Iterator[None]:
        """Hold a slot for the block, or raise the documented 503 at once if none is free."""
        if not self._slots.acquire(blocking=False):
            raise busy()
        try:
            yield
        finally:
            self._slots.release()
