"""Webhook delivery against a real gunicorn and real HTTP receivers on 127.0.0.1.

The retry schedule is the documented one (1 s, 5 s, 15 s; 10 s timeout), so the
scenarios run side by side in one test to keep the suite's wall time down.
"""
from __future__ import annotations

import time

from tests.jobs_support import create_job, wait_job
from tests.metrics_support import scrape_delta
from tests.receivers import Receiver
from tests.transports import HttpTransport

PAYLOAD_FIELDS = {"job_id", "status", "algorithm", "result", "error", "metadata", "completed_at"}


def test_one_webhook_on_success(deployment):
    http = HttpTransport(deployment.base_url)
    with Receiver() as receiver:
        job_id = create_job(http, "PrimeChecker", {"number": 17}, webhook=receiver.url)
        record = wait_job(http, job_id, webhook_status="delivered")
        assert record["webhook_attempts"] == 1
        (delivery,) = receiver.requests
    payload = delivery.json()
    assert set(payload) == PAYLOAD_FIELDS
    assert payload["job_id"] == job_id and payload["status"] == "completed"
    assert payload["result"] == record["result"] and payload["metadata"] == record["metadata"]
    assert payload["completed_at"] == record["completed_at"]
    assert delivery.headers["content-type"].startswith("application/json")
    assert delivery.headers["webhook-id"]


def test_one_webhook_on_failure(deployment):
    http = HttpTransport(deployment.base_url)
    with Receiver() as receiver:
        job_id = create_job(http, "PositiveOnly", {"number": 0}, webhook=receiver.url)
        wait_job(http, job_id, webhook_status="delivered")
        (delivery,) = receiver.requests
    assert delivery.json()["status"] == "failed"
    assert delivery.json()["error"] == "Invalid input: number must be positive"
    assert delivery.json()["result"] is None


def test_retry_schedule_timeouts_and_isolation(deployment):
    http = HttpTransport(deployment.base_url)
    with Receiver(responses=[500, 500, 200]) as flaky, Receiver(default=503) as dead, \
            Receiver(responses=["hang"]) as hanging, \
            scrape_delta(http, "webhook_deliveries_total") as deliveries:
        flaky_job = create_job(http, "PrimeChecker", {"number": 2}, webhook=flaky.url)
        dead_job = create_job(http, "PrimeChecker", {"number": 3}, webhook=dead.url)
        hanging_job = create_job(http, "PrimeChecker", {"number": 5}, webhook=hanging.url)

        # While deliveries fail, hang and wait, other jobs run at once.
        started = time.monotonic()
        quick = create_job(http, "PrimeChecker", {"number": 7})
        assert wait_job(http, quick, timeout=5)["status"] == "completed"
        assert time.monotonic() - started < 5

        record = wait_job(http, flaky_job, webhook_status="delivered", timeout=20)
        assert record["webhook_attempts"] == 3
        times = [r.time for r in flaky.requests]
        assert len(times) == 3
        assert 0.9 <= times[1] - times[0] <= 3.0
        assert 4.9 <= times[2] - times[1] <= 7.5

        record = wait_job(http, hanging_job, webhook_status="delivered", timeout=30)
        assert record["webhook_attempts"] == 2
        hung, retried = hanging.requests
        assert 10.5 <= retried.time - hung.time <= 14, "10 s timeout, then the 1 s retry"

        record = wait_job(http, dead_job, webhook_status="failed", timeout=40)
        assert record["webhook_attempts"] == 4
        times = [r.time for r in dead.requests]
        assert len(times) == 4
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert 0.9 <= gaps[0] <= 3 and 4.9 <= gaps[1] <= 7.5 and 14.9 <= gaps[2] <= 18
    assert len(flaky.requests) == 3 and len(dead.requests) == 4
    assert deliveries(status="success") == 2
    assert deliveries(status="failed") == 1
    assert all(r.headers["webhook-id"] == flaky_job for r in flaky.requests)
