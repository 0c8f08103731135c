"""What a job backend does for the web process, in both modes."""
from __future__ import annotations

from typing import Protocol

from app.jobs.model import JobRecord
from app.jobs.store import JobStore


class QueueFull(Exception):
    """MAX_QUEUE jobs are waiting already: the client should retry later (503)."""


class JobBackend(Protocol):
    store: JobStore

    def submit(self, record: JobRecord) -> bool:
        """False if its id is taken; QueueFull, StoreFull or StoreUnavailable keep nothing."""

    def release(self, job_id: str) -> None:
        """The job was just cancelled: free its queue slot now if it has one."""

    def healthy(self) -> bool:
        """For /readyz."""

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        """Read at each scrape of /metrics; never raises."""

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        """Finish or fail what was taken within the grace, and be done within `exit_within`
        seconds (default: the grace); False when threads are still busy."""
