"""RQ job functions for scale-out mode and their wiring, without Flask; and how a job
nobody will finish is still failed and its webhook told."""
from __future__ import annotations

import logging
import math
import mmap
import struct
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple

import redis
from rq import Queue

from app.algorithms.registry import ALGORITHMS, with_extras
from app.config import Settings
from app.jobs.execution import fail_job, run_job
from app.jobs.model import PENDING, RUNNING, JobRecord
from app.jobs.redis_store import RedisJobStore, connect
from app.observability.shared_metrics import MetricsBuffer, worker_metrics
from app.webhooks import delivery

log = logging.getLogger(__name__)

JOBS_QUEUE = "jobs"
WEBHOOKS_QUEUE = "webhooks"
WORKER_LOST = "worker lost while running the job (killed or crashed); please submit it again"
STRANDED = "the worker that took the job stopped before starting it; please submit it again"
TIMED_OUT = "job exceeded JOB_TIMEOUT_SECONDS and its worker was stopped"


class WorkerContext:
    """This process's wiring, through `context()`: a forked worker clears its cache first,
    so it never shares its parent's Redis connections. It is the delivery.RetryScheduler
    too: a later attempt waits in RQ's scheduled registry, so no restart loses a retry."""

    def __init__(self) -> None:
        self.settings = settings = Settings.from_env()
        self.client = client = connect(settings.redis_url, settings.redis_ssl_cert_reqs)
        self.store = RedisJobStore(client, settings.job_ttl_seconds)
        self.algorithms = with_extras(ALGORITHMS, settings.extra_algorithms)
        self.metrics_buffer = MetricsBuffer(client)
        self.metrics = worker_metrics(self.metrics_buffer)
        self.sender = delivery.sender_for(settings)
        self.jobs = Queue(JOBS_QUEUE, connection=client)
        self.webhooks = Queue(WEBHOOKS_QUEUE, connection=client)
        self.attempt_options = {"job_timeout": int(settings.webhook_timeout_seconds) + 30,
                                "result_ttl": 0, "failure_ttl": int(settings.job_ttl_seconds)}

    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        if delay <= 0:
            self.webhooks.enqueue(deliver_webhook_task, job_id, attempt, **self.attempt_options)
            return
        # RQ's scheduler truncates to whole seconds: round up, never before the delay.
        due = datetime.fromtimestamp(math.ceil(time.time() + delay), timezone.utc)
        self.webhooks.enqueue_at(due, deliver_webhook_task, job_id, attempt, **self.attempt_options)

    def notify(self, record: JobRecord) -> None:
        if record.webhook:  # the finishing write set webhook_status "pending"
            delivery.start_delivery(record.job_id, self.store, self.metrics, self)

    def flush(self) -> None:
        """All of a task's samples in one round trip; kept for the next task if Redis is down."""
        try:
            self.metrics_buffer.flush()
        except redis.RedisError:
            log.warning("worker metrics not written yet: Redis unreachable")


context = lru_cache(maxsize=1)(WorkerContext)


class Work(NamedTuple):
    job_id: str | None  # None between tasks
    deadline: float     # Unix time
    attempt: int = 0    # of the job's webhook, on the webhooks queue


class JobSlot:
    """A worker's current task and deadline, in memory shared with its supervisor, which
    renews the job's lease, settles the task of a worker that died and kills one past the
    deadline (RQ's SIGALRM cannot stop a C call that never returns to Python)."""

    _FORMAT = "12sdi"

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, struct.calcsize(self._FORMAT))  # shared across fork

    def start(self, job_id: str, deadline: float, attempt: int = 0) -> None:
        self._memory[:] = struct.pack(self._FORMAT, job_id.encode(), deadline, attempt)

    def clear(self) -> None:
        self._memory[:] = bytes(len(self._memory))

    def read(self) -> Work:
        raw_id, deadline, attempt = struct.unpack(self._FORMAT, self._memory[:])
        return Work(raw_id.decode() if raw_id.strip(b"\0") else None, deadline, attempt)


# Replaced by app.worker with the one its supervisor reads.
slot = JobSlot()


def run_job_task(job_id: str) -> None:
    """Run one job; the running transition takes its lease, the supervisor renews it."""
    ctx = context()
    slot.start(job_id, time.time() + ctx.settings.job_timeout_seconds)
    try:
        run_job(job_id, ctx.store, ctx.algorithms, ctx.metrics, ctx.notify)
    finally:
        slot.clear()
        ctx.flush()


def deliver_webhook_task(job_id: str, attempt: int) -> None:
    """One delivery attempt; the next one is scheduled in RQ."""
    ctx = context()
    limit = ctx.settings.webhook_dns_timeout_seconds + ctx.settings.webhook_timeout_seconds
    slot.start(job_id, time.time() + limit, attempt)
    try:
        delivery.deliver(job_id, attempt, ctx.store, ctx.sender, ctx.metrics,
                         ctx.settings.webhook_retry_delays, ctx)
    finally:
        slot.clear()
        ctx.flush()


def settle_lost(queue_name: str, work: Work, error: str) -> None:
    """A dead worker's job is failed (`error`) and its webhook told; its webhook attempt
    counts as failed."""
    ctx = context()
    if queue_name == JOBS_QUEUE:
        fail_job(work.job_id, ctx.store, ctx.metrics, error, ctx.notify)
    else:
        delivery.cut_off(work.job_id, work.attempt, ctx.store, ctx.metrics,
                         ctx.settings.webhook_retry_delays, ctx)
    ctx.flush()


class LostJobs:
    """The `worker` supervisor's chore: fail, and tell the webhook of, running jobs whose
    lease lapsed (their worker's machine went) and pending ones in no queue (taken by a
    worker that died before starting them), once seen so on two sweeps in a row: a live
    worker starts a job milliseconds after taking it."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._suspects: set[str] = set()

    def __call__(self) -> None:
        ctx = context()
        for job_id in ctx.store.lost_jobs():
            fail_job(job_id, ctx.store, ctx.metrics, WORKER_LOST, ctx.notify, frozenset({RUNNING}))
        pending = ctx.store.pending_since(time.time() - self.interval)
        unqueued = set(pending) - set(ctx.jobs.get_job_ids()) if pending else set()
        confirmed, self._suspects = unqueued & self._suspects, unqueued - self._suspects
        for job_id in sorted(confirmed):
            fail_job(job_id, ctx.store, ctx.metrics, STRANDED, ctx.notify, frozenset({PENDING}))
        ctx.flush()

    def release(self) -> None:
        """Nothing to hand over: every `worker` process sweeps."""
