"""The webhook path both modes share (app/webhooks/delivery.py), on the embedded store
and a real receiver: what happens when the next attempt cannot be scheduled, and the
finishing write that starts it all."""
from __future__ import annotations

import logging

import pytest

from app.algorithms.registry import ALGORITHMS
from app.config import Settings
from app.jobs.execution import run_job
from app.jobs.memory_store import MemoryJobStore
from app.jobs.model import COMPLETED, JobRecord
from app.observability.metrics import Metrics
from app.webhooks import delivery
from tests.receivers import Receiver, Reply

JOB_ID = "0123456789ab"


class RefusingScheduler:
    """A scheduler that cannot take work (RQ's Redis down, the embedded pool closed)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, float]] = []

    def schedule(self, job_id: str, attempt: int, delay: float) -> None:
        self.asked.append((job_id, attempt, delay))
        raise RuntimeError("cannot schedule")


@pytest.fixture
def store():
    return MemoryJobStore(ttl_seconds=60, max_jobs=10)


def finished_job(store: MemoryJobStore, webhook: str) -> None:
    assert store.create(JobRecord(job_id=JOB_ID, algorithm="PrimeChecker", params={"number": 7},
                                  webhook=webhook, status=COMPLETED, webhook_status="pending"))


def failed_deliveries(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("webhook_deliveries_total", {"status": "failed"}) or 0


def assert_logged_and_failed(store, metrics, caplog, attempt: int) -> None:
    assert store.get(JOB_ID).webhook_status == "failed"
    assert failed_deliveries(metrics) == 1
    (line,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.job_id == JOB_ID and line.attempt == attempt


def test_a_first_attempt_that_cannot_be_scheduled_is_logged_and_failed(store, caplog):
    finished_job(store, "http://127.0.0.1:9/hook")
    metrics, scheduler = Metrics(), RefusingScheduler()
    delivery.start_delivery(JOB_ID, store, metrics, scheduler)
    assert scheduler.asked == [(JOB_ID, 1, 0.0)]
    assert_logged_and_failed(store, metrics, caplog, attempt=1)


def test_a_retry_that_cannot_be_scheduled_is_logged_and_failed(store, caplog):
    metrics, scheduler = Metrics(), RefusingScheduler()
    sender = delivery.sender_for(Settings(webhook_allow_private=True, webhook_timeout_seconds=2))
    with Receiver(default=500) as receiver:
        finished_job(store, receiver.url)
        delivery.deliver(JOB_ID, 1, store, sender, metrics, (0.5, 1.0), scheduler)
        assert len(receiver.requests) == 1
    assert scheduler.asked == [(JOB_ID, 2, 0.5)]
    assert store.get(JOB_ID).webhook_attempts == 1
    assert_logged_and_failed(store, metrics, caplog, attempt=2)


@pytest.mark.parametrize("retry_after, delay", [("0", 0.5), ("1", 1), ("30", 2.0), ("soon", 0.5)])
def test_retry_after_stretches_the_next_delay_within_the_schedule(store, retry_after, delay):
    scheduler = RefusingScheduler()
    sender = delivery.sender_for(Settings(webhook_allow_private=True, webhook_timeout_seconds=2))
    with Receiver([Reply(429, {"Retry-After": retry_after})]) as receiver:
        finished_job(store, receiver.url)
        delivery.deliver(JOB_ID, 1, store, sender, Metrics(), (0.5, 2.0), scheduler)
    assert scheduler.asked == [(JOB_ID, 2, delay)]


def test_the_finishing_write_sets_the_webhook_status(store):
    """Whoever reads the record once it is finished sees webhook_status "pending"."""
    assert store.create(JobRecord(job_id=JOB_ID, algorithm="PrimeChecker", params={"number": 7},
                                  webhook="http://127.0.0.1:9/hook"))
    seen = []
    run_job(JOB_ID, store, ALGORITHMS, Metrics(), lambda record: seen.append(store.get(JOB_ID)))
    (record,) = seen
    assert record.status == COMPLETED and record.webhook_status == "pending"
