"""What only the embedded default has: one process, memory limits, expiry, shutdown."""
from __future__ import annotations

import signal
import time

import pytest

from app.extensions import EXTENSION_KEY
from tests.conftest import JOBS_ENV
from tests.jobs_support import create_job, wait_job
from tests.metrics_support import sample, scrape
from tests.receivers import Receiver
from tests.servers import Service, wait_for
from tests.test_memory_store import container_sizes
from tests.transports import HttpTransport

NOT_DELIVERED = "webhook not delivered: the process is exiting"


def backend_of(app):
    return app.extensions[EXTENSION_KEY].jobs.backend


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


def test_thousands_of_jobs_expire_and_the_store_empties(make_app):
    app = make_app({"job_ttl_seconds": 1.0, "sweep_interval_seconds": 0.2,
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


def test_max_jobs_refuses_with_503(make_app):
    app = make_app({"max_jobs": 3, "max_queue": 100})
    client = app.test_client()
    statuses = [client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 1}})
                .status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 503]


def test_cancelling_a_pending_job_frees_its_queue_slot(limited_service):
    http = HttpTransport(limited_service.base_url)
    running = create_job(http, "Sleep", {"seconds": 2.0})
    wait_job(http, running, until={"running"})
    queued = [create_job(http, "PrimeChecker", {"number": n}) for n in (11, 13)]
    assert http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": 17}}).status == 503

    assert http.request("DELETE", f"/jobs/{queued[0]}").json()["status"] == "cancelled"
    assert sample(scrape(http), "jobs_active", state="pending") == 1
    queued.append(create_job(http, "PrimeChecker", {"number": 19}))
    for job_id in [running, *queued[1:]]:
        assert wait_job(http, job_id)["status"] == "completed"


def test_refused_requests_with_idempotency_keys_leave_nothing_behind(make_app):
    app = make_app({"max_jobs": 1})
    client = app.test_client()
    body = {"algorithm": "PrimeChecker", "params": {"number": 7}}
    job_id = client.post("/jobs", json=body).get_json()["job_id"]
    wait_for(lambda: client.get(f"/jobs/{job_id}").get_json()["status"] == "completed")
    store = backend_of(app).store
    before = container_sizes(store)
    for key in [f"distinct-{n}" for n in range(300)] + ["retried"] * 300:
        assert client.post("/jobs", json=body, headers={"Idempotency-Key": key}).status_code == 503
    assert container_sizes(store) == before


def test_the_expiry_sweeper_survives_an_error(make_app, monkeypatch, caplog):
    app = make_app({"sweep_interval_seconds": 0.01})
    store = backend_of(app).store
    sweeps = []

    def sweep_failing_once() -> int:
        sweeps.append(1)
        if len(sweeps) == 1:
            raise OSError("a passing fault")
        return 0

    monkeypatch.setattr(store, "sweep", sweep_failing_once)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200  # starts the sweeper
    wait_for(lambda: len(sweeps) >= 3, message="sweeps after the failed one")
    assert client.get("/readyz").status_code == 200
    assert any("sweep failed" in r.message for r in caplog.records)


def test_sigterm_gives_running_jobs_the_grace_and_every_failed_job_its_webhook():
    """The issue's scenario, scaled down: one running job whose receiver answers, more
    pending jobs whose receivers hang than the webhook pool can serve at once."""
    grace, graceful_timeout = 4, 14
    env = {**JOBS_ENV, "JOB_WORKERS": "1", "WEBHOOK_WORKERS": "2", "WEBHOOK_TIMEOUT_SECONDS": "2",
           "WEBHOOK_RETRY_DELAYS": "1", "SHUTDOWN_GRACE_SECONDS": str(grace),
           "GUNICORN_GRACEFUL_TIMEOUT": str(graceful_timeout)}
    with Receiver() as healthy, Receiver(default="hang") as hanging, Service(env) as service:
        http = HttpTransport(service.base_url)
        running = create_job(http, "Sleep", {"seconds": 30}, webhook=healthy.url)
        wait_job(http, running, until={"running"})
        waiting = [create_job(http, "PrimeChecker", {"number": n}, webhook=hanging.url)
                   for n in range(2, 8)]
        stopping = time.monotonic()
        service.signal(signal.SIGTERM)
        service.process.wait(graceful_timeout + 5)
        stopped_after = time.monotonic() - stopping
        (told,) = healthy.requests
        attempted = {r.json()["job_id"] for r in hanging.requests}
        log = service.json_lines()
    named = {line.get("job_id") for line in log if line.get("message") == NOT_DELIVERED}
    done = {line.get("job_id") for line in log if line.get("message") == "webhook attempt"
            and line.get("outcome") in ("delivered", "failed")}
    assert stopped_after < graceful_timeout
    assert told.json()["job_id"] == running and told.json()["status"] == "failed"
    assert "shut down while the job was running" in told.json()["error"]
    assert told.time - stopping >= grace, "running jobs get the whole grace"
    assert attempted == set(waiting), "every pending job's webhook was tried"
    unfinished = set(waiting) - done
    assert unfinished and unfinished <= named, "each delivery that had not ended is named"
    assert not named & done
