"""RQ job functions for scale-out mode, and the worker-side wiring they share.

RQ imports these by name in worker processes, so they must work without the Flask
app: everything they need is built from the environment, once per process.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import redis
from rq import Queue

from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS, with_extras
from app.config import Settings
from app.jobs.execution import fail_job, run_job
from app.jobs.model import RUNNING, JobRecord
from app.jobs.redis_store import LEASE_SECONDS, RedisJobStore, connect
from app.metrics import Metrics
from app.shared_metrics import worker_metrics
from app.webhooks import delivery
from app.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)

JOBS_QUEUE = "jobs"
WEBHOOKS_QUEUE = "webhooks"
WORKER_LOST = "worker lost while running the job (killed or crashed); please submit it again"


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    client: redis.Redis
    store: RedisJobStore
    algorithms: dict[str, Algorithm]
    metrics: Metrics
    sender: WebhookSender
    webhooks: Queue


@lru_cache(maxsize=1)
def context() -> WorkerContext:
    settings = Settings.from_env()
    client = connect(settings.redis_url, settings.redis_ssl_cert_reqs)
    return WorkerContext(
        settings=settings,
        client=client,
        store=RedisJobStore(client, settings.job_ttl_seconds),
        algorithms=with_extras(ALGORITHMS, settings.extra_algorithms),
        metrics=worker_metrics(client),
        sender=delivery.sender_for(settings),
        webhooks=Queue(WEBHOOKS_QUEUE, connection=client),
    )


def run_job_task(job_id: str) -> None:
    """Run one job, holding a lease on it so a lost worker is noticed (see reap_lost_jobs)."""
    ctx = context()
    ctx.store.renew_lease(job_id)
    done = threading.Event()
    renewer = threading.Thread(target=_renew_until, args=(ctx.store, job_id, done), daemon=True)
    renewer.start()
    try:
        run_job(job_id, ctx.store, ctx.algorithms, ctx.metrics, _notify)
    finally:
        done.set()


def deliver_webhook_task(job_id: str, attempt: int) -> None:
    """One delivery attempt; the next one is scheduled in RQ, so a restart loses no retry."""
    ctx = context()
    delay = delivery.attempt_delivery(job_id, attempt, ctx.store, ctx.sender, ctx.metrics,
                                      ctx.settings.webhook_retry_delays)
    if delay is not None:
        _schedule_delivery(ctx, job_id, attempt + 1, delay)


def reap_lost_jobs() -> int:
    """Fail the running jobs whose worker stopped renewing their lease; how many."""
    ctx = context()
    reaped = 0
    for job_id in ctx.store.lost_jobs():
        failed = fail_job(job_id, ctx.store, ctx.metrics, WORKER_LOST, expected={RUNNING})
        if failed is not None:
            reaped += 1
            _notify(failed)
    return reaped


def _notify(record: JobRecord) -> None:
    if record.webhook:
        ctx = context()
        ctx.store.update(record.job_id, webhook_status=delivery.PENDING)
        _schedule_delivery(ctx, record.job_id, 1, 0)


def _schedule_delivery(ctx: WorkerContext, job_id: str, attempt: int, delay: float) -> None:
    options = {"job_timeout": int(ctx.settings.webhook_timeout_seconds) + 30, "result_ttl": 0,
               "failure_ttl": int(ctx.settings.job_ttl_seconds)}
    if delay <= 0:
        ctx.webhooks.enqueue(deliver_webhook_task, job_id, attempt, **options)
        return
    # RQ's scheduler keeps whole seconds (it truncates): round up so a retry never
    # comes before its documented delay; it comes at most about a second after it.
    due = datetime.fromtimestamp(math.ceil(time.time() + delay), timezone.utc)
    ctx.webhooks.enqueue_at(due, deliver_webhook_task, job_id, attempt, **options)


def _renew_until(store: RedisJobStore, job_id: str, done: threading.Event) -> None:
    while not done.wait(LEASE_SECONDS / 3):
        try:
            store.renew_lease(job_id)
        except Exception:  # Redis blips: the next renewal may succeed before the lease ends
            log.warning("lease renewal failed", extra={"job_id": job_id}, exc_info=True)
