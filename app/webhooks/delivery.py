"""One webhook attempt and what follows it: the retry schedule both job modes share.

The first attempt, then up to len(delays) retries after delays[0], delays[1], ...
(1 s, 5 s, 15 s by default). A Retry-After from a 429/503 is honoured, kept within
the schedule's bounds. The job record shows where delivery stands.
"""
from __future__ import annotations

import logging
from typing import Protocol, Sequence

from app.config import Settings
from app.jobs.store import JobStore
from app.metrics import Metrics
from app.webhooks.address_policy import AddressPolicy
from app.webhooks.sender import AttemptResult, WebhookSender

log = logging.getLogger(__name__)

PENDING = "pending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"


class RetryScheduler(Protocol):
    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        """Make attempt number `attempt` (1 = first) of this job's webhook after `delay`
        seconds (0 = now). Raises an exception when it cannot be scheduled."""


def deliver(job_id: str, attempt: int, store: JobStore, sender: WebhookSender, metrics: Metrics,
            delays: Sequence[float], scheduler: RetryScheduler) -> None:
    """One attempt, then the next one through `scheduler` when the schedule says so."""
    delay = attempt_delivery(job_id, attempt, store, sender, metrics, delays)
    if delay is not None:
        _schedule(job_id, attempt + 1, delay, store, metrics, scheduler)


def start_delivery(job_id: str, store: JobStore, metrics: Metrics,
                   scheduler: RetryScheduler) -> None:
    """Schedule attempt 1 now."""
    _schedule(job_id, 1, 0, store, metrics, scheduler)


def _schedule(job_id: str, attempt: int, delay: float, store: JobStore, metrics: Metrics,
              scheduler: RetryScheduler) -> None:
    try:
        scheduler.schedule(job_id, attempt, delay)
    except Exception:
        log.error("webhook delivery could not be scheduled", extra={"job_id": job_id},
                  exc_info=True)
        try:
            store.update(job_id, webhook_status=FAILED)
        except Exception:
            log.error("webhook status not recorded", extra={"job_id": job_id}, exc_info=True)
        metrics.series(metrics.webhook_deliveries, "failed").inc()


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(settings.webhook_allow_private, settings.webhook_allowed_hosts)


def sender_for(settings: Settings) -> WebhookSender:
    """The sender web processes and workers both use, from the same settings."""
    return WebhookSender(address_policy(settings), settings.webhook_timeout_seconds,
                         settings.webhook_secret)


def attempt_delivery(
    job_id: str, attempt: int, store: JobStore, sender: WebhookSender, metrics: Metrics,
    delays: Sequence[float],
) -> float | None:
    """Make attempt number `attempt` (1 = the first); the delay before the next, or None if done."""
    record = store.get(job_id)
    if record is None or not record.webhook:
        return None
    result = sender.send(record.webhook, record.webhook_payload(), message_id=job_id)
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
