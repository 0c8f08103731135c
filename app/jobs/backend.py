"""The jobs area's interfaces: a backend runs jobs for the web process, in both modes; its
store keeps their records, every change of status a compare-and-set (`transition`)."""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from app.jobs.model import JobRecord


class Refused(Exception):
    """Not now (MAX_QUEUE, MAX_JOBS, Redis down, shutting down): a 503; the message is for logs."""


class JobStore(Protocol):
    def get(self, job_id: str) -> JobRecord | None:
        """None when it never existed or has expired."""

    def transition(self, job_id: str, expected: Iterable[str], **changes: Any) -> JobRecord | None:
        """None unless the status was one of `expected`; a finished one starts JOB_TTL_SECONDS."""

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        """Fields other than the status (webhook bookkeeping); None if gone."""

    def ping(self) -> bool:
        """For /readyz."""

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        """Keep `value` unless the key is taken, atomically: then the value kept already."""

    def forget(self, key: str) -> None:
        """A job that could not be queued after all."""


class JobBackend(Protocol):
    store: JobStore

    def submit(self, record: JobRecord) -> bool:
        """False if its id is taken; Refused keeps nothing."""

    def release(self, job_id: str) -> None:
        """The job was just cancelled: free its queue slot now if it has one."""

    def healthy(self) -> bool:
        """For /readyz."""

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        """Read at each scrape of /metrics; never raises."""

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        """Done within `exit_within` seconds (default: the grace); False if threads are busy."""
