"""One webhook attempt and what follows it: the retry schedule both job modes share.

The first attempt, then up to len(delays) retries after delays[0], delays[1], ...
(1 s, 5 s, 15 s by default). A Retry-After from a 429/503 is honoured, kept within
the schedule's bounds. The job record shows where delivery stands.
"""
from __future__ import annotations

import logging
from typing import Sequence

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


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(settings.webhook_allow_private, settings.webhook_allowed_hosts,
                         settings.webhook_dns_timeout_seconds)


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
