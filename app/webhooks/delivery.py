"""From a finished job to its webhook: the retry schedule both job modes share.

The first attempt, then up to len(delays) retries after delays[0], delays[1], ...
(1 s, 5 s, 15 s by default). A Retry-After from a 429/503 is honoured, kept within
the schedule's bounds. The job record shows where delivery stands.

"Attempt n after a delay" is the one thing the modes do differently, so it is an
interface, RetryScheduler: a timer and a thread pool in the embedded default, RQ's
scheduled jobs in scale-out mode (where a retry must survive a restart). Nothing
here imports from app.jobs: the job stores fit RecordStore as they are.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol, Sequence

from app.config import Settings
from app.observability.metrics import Metrics
from app.webhooks.address_policy import AddressPolicy
from app.webhooks.sender import AttemptResult, WebhookSender

log = logging.getLogger(__name__)

PENDING = "pending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"


class DeliveryRecord(Protocol):
    """What delivery reads from a job record."""

    webhook: str | None
    request_id: str | None
    webhook_attempts: int

    def webhook_payload(self) -> dict[str, Any]: ...


class RecordStore(Protocol):
    def get(self, job_id: str) -> DeliveryRecord | None: ...

    def update(self, job_id: str, **changes: Any) -> DeliveryRecord | None: ...


class RetryScheduler(Protocol):
    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        """Make attempt number `attempt` (1 = first) of this job's webhook after `delay`
        seconds (0 = now). Raises an exception when it cannot be scheduled."""


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(settings.webhook_allow_private, settings.webhook_allowed_hosts,
                         settings.webhook_dns_timeout_seconds)


def sender_for(settings: Settings) -> WebhookSender:
    """The sender web processes and workers both use, from the same settings."""
    return WebhookSender(address_policy(settings), settings.webhook_timeout_seconds,
                         settings.webhook_secret)


def start_delivery(job_id: str, store: RecordStore, metrics: Metrics,
                   scheduler: RetryScheduler) -> None:
    """Schedule attempt 1 now. The finishing write has set webhook_status "pending" already."""
    _schedule(job_id, 1, 0.0, store, metrics, scheduler)


def deliver(job_id: str, attempt: int, store: RecordStore, sender: WebhookSender, metrics: Metrics,
            delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """One attempt, then the next one through `scheduler` when the schedule says so."""
    delay = _attempt(job_id, attempt, store, sender, metrics, delays)
    if delay is not None:
        _schedule(job_id, attempt + 1, delay, store, metrics, scheduler)


def cut_off(job_id: str, attempt: int, store: RecordStore, metrics: Metrics,
            delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """An attempt whose worker was stopped or died before its outcome was written counts
    as a failed attempt, and the schedule goes on: no delivery is left "pending"."""
    record = store.get(job_id)
    if record is None or not record.webhook or record.webhook_attempts >= attempt:
        return
    result = AttemptResult(delivered=False, status_code=None, retry=True,
                           reason="cut off: its worker stopped")
    delay = _record(job_id, attempt, record, result, store, metrics, delays)
    if delay is not None:
        _schedule(job_id, attempt + 1, delay, store, metrics, scheduler)


def _attempt(
    job_id: str, attempt: int, store: RecordStore, sender: WebhookSender, metrics: Metrics,
    delays: Sequence[float],
) -> float | None:
    """Make attempt number `attempt` (1 = the first); the delay before the next, or None if done."""
    record = store.get(job_id)
    if record is None or not record.webhook:
        return None
    result = sender.send(record.webhook, record.webhook_payload(), message_id=job_id)
    return _record(job_id, attempt, record, result, store, metrics, delays)


def _record(job_id: str, attempt: int, record: DeliveryRecord, result: AttemptResult,
            store: RecordStore, metrics: Metrics, delays: Sequence[float]) -> float | None:
    """Write an attempt's outcome; the delay before the next attempt, or None if done."""
    delay = next_delay(attempt, result, delays)
    if result.delivered:
        outcome = DELIVERED
    elif delay is None:
        outcome = FAILED
    else:
        outcome = RETRYING
    store.update(job_id, webhook_status=outcome, webhook_attempts=attempt)
    log.info(
        "webhook attempt",
        extra={"job_id": job_id, "request_id": record.request_id, "attempt": attempt,
               "outcome": outcome, "reason": result.reason, "next_in_seconds": delay},
    )
    if outcome != RETRYING:
        metrics.series(metrics.webhook_deliveries, "success" if result.delivered else "failed").inc()
    return delay


def next_delay(attempt: int, result: AttemptResult, delays: Sequence[float]) -> float | None:
    if result.delivered or not result.retry or attempt > len(delays):
        return None
    scheduled = delays[attempt - 1]
    if result.retry_after is None:
        return scheduled
    return min(max(result.retry_after, scheduled), max(delays))


def _schedule(job_id: str, attempt: int, delay: float, store: RecordStore, metrics: Metrics,
              scheduler: RetryScheduler) -> None:
    """Hand the attempt to the scheduler; if it cannot take it, the delivery has failed
    and says so, rather than waiting as "pending" or "retrying" for ever."""
    try:
        scheduler.schedule(job_id, attempt, delay)
    except Exception as exc:
        log.error("webhook attempt could not be scheduled; delivery failed",
                  extra={"job_id": job_id, "attempt": attempt, "reason": repr(exc)[:200]})
        store.update(job_id, webhook_status=FAILED)
        metrics.series(metrics.webhook_deliveries, FAILED).inc()
