"""The job store interface of the in-memory and the Redis store. Every change of status
is a compare-and-set (`transition`), whichever thread, process or machine makes it."""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from app.jobs.model import JobRecord


class StoreFull(Exception):
    """MAX_JOBS live jobs are kept already: the client should retry later (503)."""


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis down): the client should retry later (503)."""


class JobStore(Protocol):
    def create(self, record: JobRecord) -> bool:
        """False if its job_id is taken."""

    def get(self, job_id: str) -> JobRecord | None:
        """None when it never existed or has expired."""

    def transition(self, job_id: str, expected: Iterable[str], **changes: Any) -> JobRecord | None:
        """The new record, or None unless the status was one of `expected`; a finished
        status starts the expiry clock (JOB_TTL_SECONDS)."""

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        """Fields other than the status (webhook bookkeeping); None if gone."""

    def ping(self) -> bool:
        """For /readyz."""

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        """Keep `value` unless the key is taken, atomically: then the value kept already."""

    def forget(self, key: str) -> None:
        """A job that could not be queued after all."""
