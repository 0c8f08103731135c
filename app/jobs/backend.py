"""What a job backend does for the web process, in both modes.

The embedded backend runs jobs in this process; the Redis backend hands them to RQ
workers. The routes and JobService see only this interface.
"""
from __future__ import annotations

from typing import Protocol

from app.jobs.model import JobRecord
from app.jobs.store import JobStore


class QueueFull(Exception):
    """MAX_QUEUE jobs are waiting already: the client should retry later (503)."""


class JobBackend(Protocol):
    store: JobStore

    def submit(self, record: JobRecord) -> bool:
        """Store a new pending job and queue it; False if its id is taken.

        Raises QueueFull, StoreFull or StoreUnavailable, having kept nothing.
        """

    def release(self, job_id: str) -> None:
        """The job was just cancelled: if it is still queued, free its queue slot now."""

    def healthy(self) -> bool:
        """True when jobs can be taken and will run (for /readyz)."""

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        """Samples read at each scrape of /metrics: the queue gauges at least; never raises."""

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        """Stop taking jobs; within the grace period finish or fail what was taken, and
        be done within `exit_within` seconds (gunicorn's graceful timeout, less a margin).

        False when threads of this process are still busy: the caller should exit
        without waiting for them.
        """
