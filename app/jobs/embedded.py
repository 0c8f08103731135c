"""The embedded default: jobs run on a thread pool inside the one web process.

Nothing outside the process is needed, and nothing outlives it: a restart loses
every job (the README says so and points to REDIS_URL). gunicorn.conf.py keeps this
mode to one worker process, so every request sees the same store.

Threads start on first use, in the process that uses them, never in a gunicorn
master before it forks.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Mapping

from app.algorithms.base import Algorithm
from app.config import Settings
from app.jobs.backend import QueueFull
from app.jobs.delayed_executor import DelayedExecutor
from app.jobs.execution import fail_job, run_job
from app.jobs.job_threads import JobThreads
from app.jobs.memory_store import MemoryJobStore
from app.jobs.model import PENDING, RUNNING, JobRecord
from app.metrics import Metrics
from app.webhooks import delivery
from app.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)

SHUTDOWN_BEFORE_START = "service shut down before the job started; please submit it again"
SHUTDOWN_WHILE_RUNNING = "service shut down while the job was running; please submit it again"


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

    # -- the JobBackend interface ------------------------------------------------------

    def submit(self, record: JobRecord) -> bool:
        self._start_threads()
        with self._lock:
            if not self._accepting:
                raise QueueFull("shutting down")
            waiting = self._jobs.waiting()
            if waiting >= self.settings.max_queue:
                raise QueueFull(f"{waiting} jobs waiting")
            if not self.store.create(record):
                return False
            self.metrics.series(self.metrics.jobs_active, PENDING).inc()
            self._jobs.submit(record.job_id)
        return True

    def healthy(self) -> bool:
        self._start_threads()
        return self._accepting and self._sweeper.is_alive() and self.store.ping()

    def shutdown(self, grace_seconds: float) -> bool:
        """Fail what has not started, give running jobs half the grace, deliveries the rest.

        True when no job thread is still running afterwards.
        """
        with self._lock:
            self._accepting = False
        if self._started_in != os.getpid():
            return True
        log.info("job backend shutting down", extra={"grace_seconds": grace_seconds})
        self._stop_sweeper.set()
        for job_id in self._jobs.stop():
            self._left_queue()
            self._fail(job_id, PENDING, SHUTDOWN_BEFORE_START)
        still_running = self._jobs.wait_running(grace_seconds / 2)
        for job_id in still_running:
            self._fail(job_id, RUNNING, SHUTDOWN_WHILE_RUNNING)
        abandoned = self._deliveries.shutdown(grace_seconds / 2)
        if abandoned:
            log.warning("webhook retries abandoned at shutdown", extra={"count": abandoned})
        return not still_running

    # -- inside the pools --------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        self._left_queue()
        self.metrics.series(self.metrics.jobs_active, RUNNING).inc()
        try:
            run_job(job_id, self.store, self.algorithms, self.metrics, self._notify)
        finally:
            self.metrics.series(self.metrics.jobs_active, RUNNING).dec()

    def _left_queue(self) -> None:
        self.metrics.series(self.metrics.jobs_active, PENDING).dec()

    def _fail(self, job_id: str, expected: str, error: str) -> None:
        failed = fail_job(job_id, self.store, self.metrics, error, expected={expected})
        if failed is not None:
            self._notify(failed)

    def _notify(self, record: JobRecord) -> None:
        if record.webhook:  # the finishing write set webhook_status "pending"
            self._deliveries.submit(lambda: self._deliver(record.job_id, 1))

    def _deliver(self, job_id: str, attempt: int) -> None:
        delay = delivery.attempt_delivery(job_id, attempt, self.store, self.sender, self.metrics,
                                          self.settings.webhook_retry_delays)
        if delay is not None and not self._deliveries.submit(
            lambda: self._deliver(job_id, attempt + 1), delay
        ):
            log.warning("webhook retry abandoned at shutdown", extra={"job_id": job_id})

    def _sweep_until_stopped(self) -> None:
        while not self._stop_sweeper.wait(self.settings.sweep_interval_seconds):
            dropped = self.store.sweep()
            if dropped:
                log.debug("expired jobs dropped", extra={"count": dropped})

    def _start_threads(self) -> None:
        """Create the pools in this process on first use (after gunicorn's fork)."""
        if self._started_in == os.getpid():
            return
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._jobs = JobThreads(self.settings.job_workers, self._run, "job")
            self._deliveries = DelayedExecutor(self.settings.webhook_workers, "webhook")
            self._stop_sweeper = threading.Event()
            self._sweeper = threading.Thread(target=self._sweep_until_stopped,
                                             name="job-sweeper", daemon=True)
            self._sweeper.start()
            self._started_in = os.getpid()
