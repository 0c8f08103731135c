"""The embedded default: jobs run on a thread pool inside the one web process.

Nothing outside the process is needed and nothing outlives it (README, "Two modes");
gunicorn.conf.py keeps this mode to one worker process, so every request sees the same
store. Each queued or running job keeps its Future, so a cancelled pending job gives
its MAX_QUEUE place back at once and shutdown can account for every job. Webhooks go
out on a second pool whose retries wait on a timer (app/jobs/delayed_executor.py).
Threads start on first use, never in a gunicorn master before it forks.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Mapping

from app.algorithms.base import Algorithm
from app.config import Settings
from app.jobs.backend import QueueFull
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
# Every thread this backend starts is named so; the tests look for leftovers by it.
THREAD_PREFIX = "fs-"


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
        # One entry per job waiting for a thread (what MAX_QUEUE bounds). A deque, not a
        # counter under a lock: its append and pop are atomic, so job threads take no lock.
        self._waiting: deque[None] = deque()

    # -- the JobBackend interface ------------------------------------------------------

    def submit(self, record: JobRecord) -> bool:
        self._start_threads()
        job_id = record.job_id
        with self._lock:  # so that shutdown sees every job submitted before it
            if not self._accepting:
                raise QueueFull("shutting down")
            if len(self._waiting) >= self.settings.max_queue:
                raise QueueFull(f"{len(self._waiting)} jobs waiting")
            if not self.store.create(record):
                return False
            self._waiting.append(None)
            self.metrics.series(self.metrics.jobs_active, PENDING).inc()
            future = self._jobs_of[job_id] = self._pool.submit(self._run, job_id)
        future.add_done_callback(partial(self._left_pool, job_id))
        return True

    def release(self, job_id: str) -> None:
        """The job was cancelled: if it still waits for a thread, its slot is free now."""
        future = self._jobs_of.get(job_id)
        if future is not None:
            future.cancel()

    def metric_samples(self) -> list[Sample]:
        """The queue gauges: jobs waiting for a thread, and how long the oldest has waited."""
        waiting = [job_id for job_id, future in list(self._jobs_of.items())
                   if not future.running() and not future.done()]
        created = [record.created_at for record in map(self.store.get, waiting) if record]
        return queue_samples(len(waiting), min(created, default=None), time.time())

    def healthy(self) -> bool:
        self._start_threads()
        return self._accepting and self._sweeper.is_alive() and self.store.ping()

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        """Fail the jobs not started at once, give running ones `grace_seconds`, then fail
        them too; webhooks get until `exit_within` seconds from now (default: the grace).

        Every job failed here gets its first delivery attempt queued at once; one whose
        webhook has not been delivered when time is up is named in an ERROR line.
        True when none of this backend's threads is still busy.
        """
        with self._lock:
            self._accepting = False
        if self._started_in != os.getpid():
            return True
        now = time.monotonic()
        exit_by = now + (grace_seconds if exit_within is None else exit_within)
        log.info("job backend shutting down",
                 extra={"grace_seconds": grace_seconds, "exit_in_seconds": exit_by - now})
        self._stop_sweeper.set()
        failed = [job_id for job_id in self._take_back_waiting()
                  if self._fail(job_id, PENDING, SHUTDOWN_BEFORE_START)]
        still_running = self._wait_for_running(min(now + grace_seconds, exit_by))
        failed += [job_id for job_id in still_running
                   if self._fail(job_id, RUNNING, SHUTDOWN_WHILE_RUNNING)]
        self._deliveries.drain(exit_by)
        dropped, busy = self._deliveries.close()
        self._log_undelivered(failed + dropped + busy)
        return not still_running and not busy

    # -- inside the pools --------------------------------------------------------------

    def _run(self, job_id: str) -> None:
        self._left_queue()
        self.metrics.series(self.metrics.jobs_active, RUNNING).inc()
        try:
            run_job(job_id, self.store, self.algorithms, self.metrics, self._notify)
        except Exception:  # the Future would keep it where nobody looks
            log.exception("job thread error", extra={"job_id": job_id})
        finally:
            self.metrics.series(self.metrics.jobs_active, RUNNING).dec()

    def _left_queue(self) -> None:
        self._waiting.pop()
        self.metrics.series(self.metrics.jobs_active, PENDING).dec()

    def _left_pool(self, job_id: str, future: Future) -> None:
        """Run once per job, when it has run or was cancelled before it started.

        Future.cancel() answers True again for a future cancelled already, so the
        slot is given back here, where it happens exactly once.
        """
        self._jobs_of.pop(job_id, None)
        if future.cancelled():
            self._left_queue()

    def _take_back_waiting(self) -> list[str]:
        """Cancel every job still waiting for a thread; their ids."""
        with self._lock:  # no submit in between
            taken = [job_id for job_id, future in list(self._jobs_of.items()) if future.cancel()]
        self._pool.shutdown(wait=False)
        return taken

    def _wait_for_running(self, deadline: float) -> list[str]:
        wait(list(self._jobs_of.values()), max(0.0, deadline - time.monotonic()))
        return [job_id for job_id, future in list(self._jobs_of.items()) if not future.done()]

    def _fail(self, job_id: str, expected: str, error: str) -> bool:
        """Fail the job and start its webhook; True if it has one to deliver."""
        failed = fail_job(job_id, self.store, self.metrics, error, expected={expected})
        if failed is None or not failed.webhook:
            return False
        self._notify(failed)
        return True

    def _notify(self, record: JobRecord) -> None:
        """A job finished (its finishing write set webhook_status "pending")."""
        if record.webhook:
            delivery.start_delivery(record.job_id, self.store, self.metrics, self._scheduler)

    def _log_undelivered(self, job_ids: list[str]) -> None:
        for job_id in dict.fromkeys(job_ids):
            record = self.store.get(job_id)
            if record is not None and record.webhook_status in (delivery.PENDING, delivery.RETRYING):
                log.error("webhook not delivered: the process is exiting",
                          extra={"job_id": job_id, "request_id": record.request_id,
                                 "webhook_status": record.webhook_status,
                                 "attempts": record.webhook_attempts})

    def _sweep_until_stopped(self) -> None:
        while not self._stop_sweeper.wait(self.settings.sweep_interval_seconds):
            try:
                dropped = self.store.sweep()
            except Exception:  # the next sweep may well succeed; /readyz depends on this thread
                log.exception("expired-job sweep failed; trying again next interval")
                continue
            if dropped:
                log.debug("expired jobs dropped", extra={"count": dropped})

    def _start_threads(self) -> None:
        """Create the pools in this process on first use (after gunicorn's fork)."""
        if self._started_in == os.getpid():
            return
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._pool = ThreadPoolExecutor(self.settings.job_workers,
                                            thread_name_prefix=f"{THREAD_PREFIX}job")
            self._deliveries = DelayedExecutor(self.settings.webhook_workers,
                                               f"{THREAD_PREFIX}webhook")
            self._scheduler = PoolScheduler(self._deliveries, self.store, self.sender,
                                            self.metrics, self.settings.webhook_retry_delays)
            self._stop_sweeper = threading.Event()
            self._sweeper = threading.Thread(target=self._sweep_until_stopped,
                                             name=f"{THREAD_PREFIX}sweeper", daemon=True)
            self._sweeper.start()
            self._started_in = os.getpid()


class PoolScheduler:
    """The embedded default's RetryScheduler: attempts run on the webhook pool, and
    later ones wait on its timer. Raises once the pool is closed (shutdown)."""

    def __init__(self, executor: DelayedExecutor, store: MemoryJobStore, sender: WebhookSender,
                 metrics: Metrics, delays: tuple[float, ...]) -> None:
        self._executor = executor
        self._deliver = partial(delivery.deliver, store=store, sender=sender, metrics=metrics,
                                delays=delays, scheduler=self)

    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        self._executor.submit(job_id, partial(self._deliver, job_id, attempt), delay)
