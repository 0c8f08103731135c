"""Running one job, without Flask: the same for the embedded thread pool and the RQ workers."""
from __future__ import annotations

import logging
import time
from typing import Callable, Mapping

from app.algorithms.base import Algorithm, execute, one_line_error
from app.jobs.model import COMPLETED, FAILED, PENDING, RUNNING, JobRecord
from app.jobs.backend import JobStore
from app.observability.metrics import Metrics
from app.webhooks import delivery

log = logging.getLogger(__name__)


def run_job(job_id: str, store: JobStore, algorithms: Mapping[str, Algorithm], metrics: Metrics,
            on_finished: Callable[[JobRecord], None]) -> JobRecord | None:
    """Run a pending job and record the outcome; `on_finished` starts its webhook."""
    started = time.time()
    record = store.transition(job_id, {PENDING}, status=RUNNING, started_at=started)
    if record is None:
        log.info("job not pending any more; not run", extra={"job_id": job_id})
        return None
    context = {"job_id": job_id, "request_id": record.request_id, "algorithm": record.algorithm}
    log.debug("job started", extra=context)
    clock = time.perf_counter()
    try:
        algorithm = algorithms[record.algorithm]
        execution = execute(algorithm, algorithm.params_schema.load(record.params), metrics)
    except Exception as exc:
        log.warning("job failed", extra=context, exc_info=True)
        changes = {"status": FAILED, "error": one_line_error(exc)}
    else:
        changes = {"status": COMPLETED, "result": execution.result, "metadata": execution.metadata}
    finished = store.transition(
        job_id, {RUNNING}, completed_at=max(time.time(), started), **changes,
        **webhook_pending(record),
    )
    metrics.job_duration.labels(record.algorithm).observe(time.perf_counter() - clock)
    if finished is None:  # cancelled or expired meanwhile: the outcome has nowhere to go
        log.info("job result discarded: no longer running", extra=context)
        return None
    metrics.jobs_completed.labels(record.algorithm, finished.status).inc()
    log.info("job finished", extra={**context, "status": finished.status})
    on_finished(finished)
    return finished


def fail_job(job_id: str, store: JobStore, metrics: Metrics, error: str,
             on_finished: Callable[[JobRecord], None],
             expected: frozenset[str] = frozenset({PENDING, RUNNING})) -> JobRecord | None:
    """A job that will not finish (shutdown, lost worker) is failed with a clear error."""
    now = time.time()
    if (current := store.get(job_id)) is None:
        return None
    finished = store.transition(
        job_id, expected, status=FAILED, error=error, result=None, metadata=None,
        started_at=current.started_at or now, completed_at=now, **webhook_pending(current),
    )
    if finished is not None:
        metrics.jobs_completed.labels(finished.algorithm, FAILED).inc()
        log.warning("job failed", extra={"job_id": job_id, "request_id": current.request_id,
                                         "error": error})
        on_finished(finished)
    return finished


def webhook_pending(record: JobRecord) -> dict[str, str]:
    """Part of the finishing write: a reader never sees a finished job with a webhook
    and no webhook_status."""
    return {"webhook_status": delivery.PENDING} if record.webhook else {}
