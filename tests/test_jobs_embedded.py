"""What only the embedded default has: one process, memory limits, expiry, shutdown."""
from __future__ import annotations

import signal
import time

import pytest

from app import create_app
from tests.conftest import JOBS_ENV
from tests.jobs_support import create_job, wait_job
from tests.receivers import Receiver
from tests.servers import Service, wait_for
from tests.transports import HttpTransport


@pytest.fixture(scope="module")
def limited_service():
    env = {**JOBS_ENV, "MAX_QUEUE": "2", "JOB_WORKERS": "1", "JOB_TTL_SECONDS": "1",
           "SWEEP_INTERVAL_SECONDS": "0.2", "WEB_CONCURRENCY": "4"}
    with Service(env) as service:
        yield service


def test_one_worker_process_whatever_web_concurrency_says(limited_service):
    lines = wait_for(lambda: [l for l in limited_service.json_lines()
                              if "embedded job store" in l.get("message", "")],
                     message="the correction to be logged")
    assert "asked for 4" in lines[0]["message"]
    # The master spawns every worker before any answers, and the service answered already;
    # the wait is only for its log lines to be flushed.
    booted = wait_for(lambda: [l for l in limited_service.json_lines()
                               if "Booting worker" in l.get("message", "")],
                      message="the master's boot lines")
    assert len(booted) == 1


def test_jobs_expire_after_ttl_set_by_environment(limited_service):
    http = HttpTransport(limited_service.base_url)
    job_id = create_job(http, "PrimeChecker", {"number": 97})
    wait_job(http, job_id)
    gone = wait_for(lambda: (r := http.get(f"/jobs/{job_id}")).status == 404 and r, timeout=5,
                    message="the job to expire")
    assert gone.json()["detail"]["error"] == "JOB_NOT_FOUND"


def test_queue_limit_is_503_with_retry_after_and_nothing_accepted_is_lost(limited_service):
    http = HttpTransport(limited_service.base_url)
    running = create_job(http, "Sleep", {"seconds": 1.0})
    wait_job(http, running, until={"running"})
    queued = [create_job(http, "PrimeChecker", {"number": n}) for n in (11, 13)]
    refused = http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": 17}})
    assert refused.status == 503
    assert int(refused.header("Retry-After")) >= 1
    detail = refused.json()["detail"]
    assert detail["error"] == "SERVICE_UNAVAILABLE"
    assert detail["message"] == "任务服务暂不可用,请稍后重试"
    for job_id in [running, *queued]:
        assert wait_job(http, job_id)["status"] == "completed"


def test_thousands_of_jobs_expire_and_the_store_empties():
    app = create_app({"log_level": "WARNING", "job_ttl_seconds": 1.0, "sweep_interval_seconds": 0.2,
                      "max_queue": 10_000, "max_jobs": 10_000})
    client = app.test_client()
    store = app.extensions["functional_scaffold"].jobs.backend.store
    assert len(store) == 0
    ids = []
    for n in range(5000):
        reply = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": n}})
        assert reply.status_code == 202
        ids.append(reply.get_json()["job_id"])
    assert len(set(ids)) == 5000
    assert len(store) > 0
    wait_for(lambda: len(store) == 0, timeout=30, message="every job to expire")
    assert client.get(f"/jobs/{ids[-1]}").status_code == 404


def test_max_jobs_refuses_with_503():
    app = create_app({"log_level": "WARNING", "max_jobs": 3, "max_queue": 100})
    client = app.test_client()
    statuses = [client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 1}})
                .status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 503]


def test_sigterm_fails_unfinished_jobs_and_tells_their_webhooks():
    env = {**JOBS_ENV, "JOB_WORKERS": "1", "SHUTDOWN_GRACE_SECONDS": "2",
           "GUNICORN_GRACEFUL_TIMEOUT": "15"}
    with Receiver() as receiver, Service(env) as service:
        http = HttpTransport(service.base_url)
        running = create_job(http, "Sleep", {"seconds": 30}, webhook=receiver.url)
        wait_job(http, running, until={"running"})
        waiting = create_job(http, "PrimeChecker", {"number": 5}, webhook=receiver.url)
        stopping = time.monotonic()
        service.signal(signal.SIGTERM)
        service.process.wait(15)
        assert time.monotonic() - stopping < 10, "within the graceful timeout"
        deliveries = {r.json()["job_id"]: r.json() for r in receiver.wait_for_count(2, timeout=5)}
    assert deliveries[running]["status"] == "failed"
    assert "shut down while the job was running" in deliveries[running]["error"]
    assert deliveries[waiting]["status"] == "failed"
    assert "shut down before the job started" in deliveries[waiting]["error"]
