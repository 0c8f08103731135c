"""Webhook delivery against a real gunicorn and real HTTP receivers on 127.0.0.1.

One test checks the documented schedule (1 s, 5 s, 15 s) as it is; the others run on
deployments with a short one (RETRY_DELAYS, a 1 s timeout), so they take seconds.
In scale-out mode RQ's scheduler keeps whole seconds and polls, so a retry may come
up to about two seconds late there: the upper bounds allow for it.
"""
from __future__ import annotations


import pytest

from tests.conftest import JOBS_ENV
from tests.jobs_support import create_job, wait_job
from tests.metrics_support import scrape_delta
from tests.receivers import Receiver
from tests.servers import ScaleOut, Service
from tests.transports import HttpTransport

PAYLOAD_FIELDS = {"job_id", "status", "algorithm", "result", "error", "metadata", "completed_at"}
RETRY_DELAYS = (0.5, 1.0, 2.0)
TIMEOUT = 1.0
SCHEDULER_SLACK = 2.5  # RQ: rounded up to the second, then found by a poll


@pytest.fixture(scope="module", params=["embedded", "scale_out"])
def fast_retries(request):
    """A deployment in each mode with a short retry schedule and webhook timeout."""
    env = {**JOBS_ENV, "WEBHOOK_RETRY_DELAYS": ",".join(map(str, RETRY_DELAYS)),
           "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT)}
    deployment = Service(env) if request.param == "embedded" else ScaleOut(env, 1, 1)
    with deployment:
        yield deployment


def gaps(receiver: Receiver) -> list[float]:
    times = [r.time for r in receiver.requests]
    return [b - a for a, b in zip(times, times[1:])]


def assert_gaps(observed: list[float], expected: list[float]) -> None:
    assert len(observed) == len(expected)
    for gap, delay in zip(observed, expected):
        assert delay - 0.1 <= gap <= delay + SCHEDULER_SLACK, (observed, expected)


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


def test_the_documented_schedule_1_5_15_seconds(scale_out):
    """The one test on the real schedule: a receiver that never recovers. Scale-out
    mode, where the schedule goes through RQ's scheduler; both modes read the same
    WEBHOOK_RETRY_DELAYS (tests/test_config.py), and the embedded timer is checked on
    a short schedule below."""
    http = HttpTransport(scale_out.base_url)
    with Receiver(default=503) as dead:
        job_id = create_job(http, "PrimeChecker", {"number": 3}, webhook=dead.url)
        record = wait_job(http, job_id, webhook_status="failed", timeout=40)
        assert record["webhook_attempts"] == 4
        assert_gaps(gaps(dead), [1.0, 5.0, 15.0])


def test_retries_timeouts_and_isolation(fast_retries):
    http = HttpTransport(fast_retries.base_url)
    with Receiver(responses=[500, 500, 200]) as flaky, Receiver(default=503) as dead, \
            Receiver(responses=["hang"]) as hanging, \
            scrape_delta(http, "webhook_deliveries_total") as deliveries:
        flaky_job = create_job(http, "PrimeChecker", {"number": 2}, webhook=flaky.url)
        dead_job = create_job(http, "PrimeChecker", {"number": 3}, webhook=dead.url)
        hanging_job = create_job(http, "PrimeChecker", {"number": 5}, webhook=hanging.url)

        # While deliveries fail, hang and wait, other jobs run at once.
        quick = create_job(http, "PrimeChecker", {"number": 7})
        assert wait_job(http, quick, timeout=5)["status"] == "completed"

        assert wait_job(http, flaky_job, webhook_status="delivered")["webhook_attempts"] == 3
        assert_gaps(gaps(flaky), list(RETRY_DELAYS[:2]))
        assert wait_job(http, hanging_job, webhook_status="delivered")["webhook_attempts"] == 2
        assert_gaps(gaps(hanging), [TIMEOUT + RETRY_DELAYS[0]])
        assert wait_job(http, dead_job, webhook_status="failed")["webhook_attempts"] == 4
        assert_gaps(gaps(dead), list(RETRY_DELAYS))
    assert deliveries(status="success") == 2
    assert deliveries(status="failed") == 1
    assert all(r.headers["webhook-id"] == flaky_job for r in flaky.requests)
