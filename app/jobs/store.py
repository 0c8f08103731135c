"""The job store interface, shared by the in-memory store and the Redis store.

Every change of status goes through `transition`, a compare-and-set on the status,
so a job only ever moves pending -> running -> completed | failed (or to cancelled
from pending, or from running where its algorithm allows), whichever thread, process
or machine tries to move it.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from app.jobs.model import JobRecord


class StoreFull(Exception):
    """MAX_JOBS live jobs are kept already: the client should retry later (503)."""


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis down): the client should retry later (503)."""


class JobStore(Protocol):
    def create(self, record: JobRecord) -> bool:
        """Keep a new record; False if its job_id is taken (the caller draws another)."""

    def get(self, job_id: str) -> JobRecord | None:
        """The record, or None when it never existed or has expired."""

    def transition(self, job_id: str, expected: Iterable[str], **changes: Any) -> JobRecord | None:
        """Apply `changes` only if the job's status is one of `expected`; the new record or None.

        Moving to a finished status starts the record's expiry clock (JOB_TTL_SECONDS).
        """

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        """Change fields that are not the status (webhook bookkeeping); None if gone."""

    def ping(self) -> bool:
        """True when the store can take work (for /readyz)."""

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        """Keep `value` under `key` for `ttl_seconds` unless the key is taken: then the
        value already kept, and nothing changes. Atomic, across processes where the
        store is shared (Idempotency-Key)."""

    def forget(self, key: str) -> None:
        """Drop a remembered key (a job that could not be queued after all)."""
