"""From a finished job to its webhook: the retry schedule both job modes share.

"Attempt n after a delay" is the one thing the modes do differently, so it is the
RetryScheduler interface. Nothing here imports from app.jobs: its stores fit RecordStore.
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


class RecordStore(Protocol):
    """A job store. Delivery reads a record's webhook, request_id, webhook_attempts and
    webhook_payload(), and updates its webhook_status and webhook_attempts."""

    def get(self, job_id: str) -> Any: ...

    def update(self, job_id: str, **changes: Any) -> Any: ...


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


def start_delivery(job_id: str, store: RecordStore, metrics: Metrics, scheduler: RetryScheduler,
                   attempt: int = 1, delay: float = 0.0) -> None:
    """Schedule attempt 1 now (the finishing write has set webhook_status "pending"), or a
    later one. If the scheduler cannot take it, the delivery fails now, never left pending."""
    try:
        scheduler.schedule(job_id, attempt, delay)
    except Exception as exc:
        log.error("webhook attempt could not be scheduled; delivery failed",
                  extra={"job_id": job_id, "attempt": attempt, "reason": repr(exc)[:200]})
        store.update(job_id, webhook_status=FAILED)
        metrics.webhook_deliveries.labels(FAILED).inc()


def deliver(job_id: str, attempt: int, store: RecordStore, sender: WebhookSender,
            metrics: Metrics, delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """Make attempt number `attempt` (1 = the first), then schedule the next if one is due."""
    record = store.get(job_id)
    if record is not None and record.webhook:
        result = sender.send(record.webhook, record.webhook_payload(), message_id=job_id)
        _record(job_id, attempt, record, result, store, metrics, delays, scheduler)


def cut_off(job_id: str, attempt: int, store: RecordStore, metrics: Metrics,
            delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """An attempt whose worker was stopped or died before its outcome was written counts
    as a failed attempt, and the schedule goes on: no delivery is left "pending"."""
    record = store.get(job_id)
    if record is not None and record.webhook and record.webhook_attempts < attempt:
        result = AttemptResult(False, None, "cut off: its worker stopped")
        _record(job_id, attempt, record, result, store, metrics, delays, scheduler)


def _record(job_id: str, attempt: int, record: Any, result: AttemptResult, store: RecordStore,
            metrics: Metrics, delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """Write an attempt's outcome, then schedule the next attempt if one is due."""
    delay = None
    if not result.delivered and result.retry and attempt <= len(delays):
        # Retry-After may stretch the scheduled delay, up to the schedule's longest.
        delay = min(max(result.retry_after or 0.0, delays[attempt - 1]), max(delays))
    outcome = DELIVERED if result.delivered else FAILED if delay is None else RETRYING
    store.update(job_id, webhook_status=outcome, webhook_attempts=attempt)
    log.info("webhook attempt", extra={
        "job_id": job_id, "request_id": record.request_id, "attempt": attempt,
        "outcome": outcome, "reason": result.reason, "next_in_seconds": delay})
    if outcome == RETRYING:
        start_delivery(job_id, store, metrics, scheduler, attempt + 1, delay)
    else:
        metrics.webhook_deliveries.labels("success" if result.delivered else FAILED).inc()
