"""The embedded default: jobs run on a thread pool inside the one web process.

Each queued or running job keeps its Future, so a cancelled pending job gives its
MAX_QUEUE place back at once and shutdown can account for every job. Threads start on
first use, never in a gunicorn master before it forks.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Mapping

from app.algorithms.base import Algorithm
from app.config import Settings
from app.jobs.backend import Refused
from app.jobs.delayed_executor import DelayedExecutor
from app.jobs.execution import fail_job, run_job
from app.jobs.memory_store import MemoryJobStore
from app.jobs.model import PENDING, RUNNING, JobRecord
from app.observability.metrics import Metrics, Sample, queue_samples
from app.webhooks import delivery
from app.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)

SHUTDOWN_BEFORE_START = "service shut down before the job started; please submit it again"
SHUTDOWN_WHILE_RUNNING = "service shut down while the job was running; please submit it again"
THREAD_PREFIX = "fs-"  # the tests look for leftover threads by it


class EmbeddedBackend:
    def __init__(self, settings: Settings, algorithms: Mapping[str, Algorithm], metrics: Metrics,
                 sender: WebhookSender) -> None:
        self.settings = settings
        self.algorithms = algorithms
        self.metrics = metrics
        self.sender = sender
        self.store = MemoryJobStore(settings.job_ttl_seconds, settings.max_jobs)
        self._lock = threading.Lock()
        self._accepting = True
        self._started_in: int | None = None
        self._jobs_of: dict[str, Future] = {}  # queued and running jobs
        # Jobs waiting for a thread -> their created_at: a dict's set and pop are atomic, so
        # job threads take no lock.
        self._waiting: dict[str, float] = {}

    def submit(self, record: JobRecord) -> bool:
        self._start_threads()
        with self._lock:  # so that shutdown sees every job submitted before it
            if not self._accepting:
                raise Refused("shutting down")
            if len(self._waiting) >= self.settings.max_queue:
                raise Refused(f"{len(self._waiting)} jobs waiting")
            if not self.store.create(record):
                return False
            self._waiting[record.job_id] = record.created_at
            future = self._jobs_of[record.job_id] = self._pool.submit(self._run, record.job_id)
        future.add_done_callback(partial(self._left_pool, record.job_id))
        return True

    def release(self, job_id: str) -> None:
        if (future := self._jobs_of.get(job_id)) is not None:
            future.cancel()

    def metric_samples(self) -> list[Sample]:
        created = list(self._waiting.values())
        return [("jobs_active", {"state": PENDING}, float(len(created))),
                *queue_samples(len(created), min(created, default=None), time.time())]

    def healthy(self) -> bool:
        self._start_threads()
        return self._accepting and self._sweeper.is_alive() and self.store.ping()

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        with self._lock:  # no job is submitted after this snapshot
            self._accepting = False
            jobs = dict(self._jobs_of)
        if self._started_in != os.getpid():
            return True
        now = time.monotonic()
        exit_by = now + (grace_seconds if exit_within is None else exit_within)
        log.info("job backend shutting down",
                 extra={"grace_seconds": grace_seconds, "exit_in_seconds": exit_by - now})
        self._stop_sweeper.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for job_id in jobs:  # the running ones are not pending: left alone
            fail_job(job_id, self.store, self.metrics, SHUTDOWN_BEFORE_START, self._notify,
                     {PENDING})
        wait(jobs.values(), max(0.0, min(now + grace_seconds, exit_by) - time.monotonic()))
        still_running = [job_id for job_id, future in jobs.items() if not future.done()]
        for job_id in still_running:
            fail_job(job_id, self.store, self.metrics, SHUTDOWN_WHILE_RUNNING, self._notify,
                     {RUNNING})
        dropped, busy = self._deliveries.close(exit_by)  # every webhook not delivered by then
        for record in filter(None, map(self.store.get, dict.fromkeys(dropped + busy))):
            if record.webhook_status in (delivery.PENDING, delivery.RETRYING):
                log.error("webhook not delivered: the process is exiting",
                          extra={"job_id": record.job_id, "request_id": record.request_id,
                                 "webhook_status": record.webhook_status,
                                 "attempts": record.webhook_attempts})
        return not still_running and not busy

    def _run(self, job_id: str) -> None:
        del self._waiting[job_id]
        with self.metrics.jobs_active.labels(RUNNING).track_inprogress():
            try:
                run_job(job_id, self.store, self.algorithms, self.metrics, self._notify)
            except Exception:  # the Future would keep it where nobody looks
                log.exception("job thread error", extra={"job_id": job_id})

    def _left_pool(self, job_id: str, future: Future) -> None:
        self._jobs_of.pop(job_id, None)
        self._waiting.pop(job_id, None)  # still there only if it was cancelled

    def _notify(self, record: JobRecord) -> None:
        if record.webhook:
            delivery.start_delivery(record.job_id, self.store, self.metrics, self)

    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        """delivery.RetryScheduler on the webhook pool; raises once it is closed (shutdown)."""
        self._deliveries.submit(job_id, partial(
            delivery.deliver, job_id, attempt, self.store, self.sender, self.metrics,
            self.settings.webhook_retry_delays, self), delay)

    def _sweep_until_stopped(self) -> None:
        while not self._stop_sweeper.wait(self.settings.sweep_interval_seconds):
            try:
                if dropped := self.store.sweep():
                    log.debug("expired jobs dropped", extra={"count": dropped})
            except Exception:  # the next sweep may well succeed; /readyz depends on this thread
                log.exception("expired-job sweep failed; trying again next interval")

    def _start_threads(self) -> None:
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._pool = ThreadPoolExecutor(self.settings.job_workers,
                                            thread_name_prefix=f"{THREAD_PREFIX}job")
            self._deliveries = DelayedExecutor(self.settings.webhook_workers,
                                               f"{THREAD_PREFIX}webhook")
            self._stop_sweeper = threading.Event()
            self._sweeper = threading.Thread(target=self._sweep_until_stopped,
                                             name=f"{THREAD_PREFIX}sweeper", daemon=True)
            self._sweeper.start()
            self._started_in = os.getpid()
