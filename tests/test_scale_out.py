"""Scale-out mode against real processes: redis-server, gunicorn with 3 workers, RQ workers.

Faults are real too: redis-server stopped and started again, a worker SIGKILLed in
the middle of a job, the web process restarted; more in test_scale_out_faults.py.
"""
from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from app.algorithms.base import Algorithm
from app.algorithms.prime_checker import factorize
from app.jobs.redis_store import LEASE_PREFIX
from app.jobs.tasks import TIMED_OUT, WORKER_LOST
from tests.conftest import JOBS_ENV
from tests.example_algorithm import SleepParams
from tests.jobs_support import create_job, job, wait_job
from tests.metrics_support import scrape_delta
from tests.receivers import Receiver
from tests.servers import ScaleOut, Service, wait_for
from tests.transports import HttpTransport


def test_a_record_written_by_a_newer_release_is_still_read(scale_out):
    """During a rolling upgrade, processes of the old release read records the new one
    wrote: a field they do not know is passed over, not a 500 on every read."""
    http = HttpTransport(scale_out.base_url)
    job_id = create_job(http, "PrimeChecker", {"number": 97})
    wait_job(http, job_id, until={"completed"})
    client = redis.Redis(port=scale_out.redis.port, socket_timeout=5)
    key = f"fs:job:{job_id}"
    record = json.loads(client.get(key))
    client.set(key, json.dumps({**record, "added_by_a_newer_release": 1}), keepttl=True)
    client.close()
    reply = http.get(f"/jobs/{job_id}")
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "completed"
    assert "added_by_a_newer_release" not in reply.json()


def test_concurrent_jobs_are_shared_by_every_web_process(scale_out):
    http = HttpTransport(scale_out.base_url)
    numbers = [10**12 + 39 * i for i in range(200)]
    with Receiver() as receiver, scrape_delta(http, "jobs_completed_total") as completed:
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(
                lambda n: create_job(HttpTransport(scale_out.base_url), "PrimeChecker",
                                     {"number": n}, webhook=receiver.url),
                numbers,
            ))
        assert len(set(ids)) == 200
        # A second web deployment, as on another machine, sees the same jobs.
        with Service(scale_out.env) as other_machine:
            for job_id, number in zip(ids, numbers):
                record = wait_job(HttpTransport(other_machine.base_url), job_id,
                                  webhook_status="delivered", timeout=60)
                assert record["result"]["factors"] == factorize(number)[0]
        deliveries = receiver.requests
    assert sorted(d.json()["job_id"] for d in deliveries) == sorted(ids), "exactly once each"
    assert completed(algorithm="PrimeChecker", status="completed") == 200

    # Fresh connections are spread over the 3 web worker processes; every one reads every job.
    for job_id in ids[:60]:
        reply = requests.get(f"{scale_out.base_url}/jobs/{job_id}",
                             headers={"Connection": "close"}, timeout=10)
        assert reply.status_code == 200
    pids = {line["pid"] for line in scale_out.web.json_lines()
            if line.get("endpoint") == "/jobs/{job_id}"}
    assert len(pids) >= 2


@pytest.fixture
def own_deployment():
    # DEBUG: the "job started" line tells which worker process runs a job (_worker_running).
    with ScaleOut({**JOBS_ENV, "MAX_QUEUE": "3", "LOG_LEVEL": "DEBUG"}, web_workers=2,
                  job_workers=2) as deployment:
        yield deployment


def test_redis_down_answers_503_quickly_and_recovers(own_deployment):
    http = HttpTransport(own_deployment.base_url)
    before = create_job(http, "PrimeChecker", {"number": 21})
    wait_job(http, before)
    own_deployment.redis.stop()

    for request in (lambda: http.post_json("/jobs", {"algorithm": "PrimeChecker",
                                                     "params": {"number": 5}}),
                    lambda: http.get(f"/jobs/{before}")):
        started = time.monotonic()
        reply = request()
        assert time.monotonic() - started < 5
        assert reply.status == 503
        assert reply.json()["detail"]["error"] == "SERVICE_UNAVAILABLE"
        assert reply.json()["detail"]["message"] == "任务服务暂不可用,请稍后重试"
        assert reply.header("Retry-After")
    ready = http.get("/readyz")
    assert ready.status == 503 and ready.json()["checks"]["jobs"] is False
    assert http.post_json("/invoke", {"number": 7}).status == 200
    assert http.get("/healthz").status == 200
    assert http.get("/metrics").status == 200

    own_deployment.redis = own_deployment.redis.restarted()
    wait_for(lambda: http.get("/readyz").status == 200, timeout=20, message="readiness again")
    assert job(http, before)["status"] == "completed", "nothing accepted is lost"
    after = create_job(http, "PrimeChecker", {"number": 22})
    assert wait_job(http, after, timeout=30)["result"]["factors"] == [2, 11]


def test_sigkilled_worker_mid_job_fails_the_job_in_bounded_time(own_deployment):
    http = HttpTransport(own_deployment.base_url)
    with Receiver() as receiver:
        victim = create_job(http, "Sleep", {"seconds": 60}, webhook=receiver.url)
        wait_job(http, victim, until={"running"})
        worker, running_pid = _worker_running(own_deployment, victim)
        killed = time.monotonic()
        # The worker process running the job and its supervisor's whole process group, as
        # when a machine or container dies.
        os.kill(running_pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        record = wait_job(http, victim, until={"failed"}, timeout=30)
        assert time.monotonic() - killed < 20, "lease 10 s + one reaper interval"
        assert record["error"] == WORKER_LOST
        (delivery,) = receiver.wait_for_count(1, timeout=10)
        assert delivery.json()["status"] == "failed"
    survivor = create_job(http, "PrimeChecker", {"number": 9})
    assert wait_job(http, survivor)["status"] == "completed"


def test_a_running_job_keeps_its_lease_while_its_worker_lives(scale_out):
    """Its supervisor renews the lease: the lease's expiry time moves on only then."""
    http = HttpTransport(scale_out.base_url)
    client = redis.Redis(port=scale_out.redis.port, socket_timeout=5)
    job_id = create_job(http, "Sleep", {"seconds": 6})
    wait_job(http, job_id, until={"running"})
    first = client.pexpiretime(LEASE_PREFIX + job_id)  # Unix ms, -2 once gone
    wait_for(lambda: client.pexpiretime(LEASE_PREFIX + job_id) > max(first, 0), timeout=4,
             message="the lease renewed")
    assert wait_job(http, job_id)["status"] == "completed"
    client.close()


def _worker_running(deployment: ScaleOut, job_id: str):
    """The `worker` supervisor that took the job, and the pid of its worker process running it."""
    def find():
        for worker in deployment.workers:
            for line in worker.json_lines():
                if line.get("job_id") == job_id and line.get("message") == "job started":
                    return worker, line["pid"]
        return None

    return wait_for(find, message=f"the worker running {job_id}")


def test_restarted_web_process_loses_nothing(own_deployment):
    http = HttpTransport(own_deployment.base_url)
    ids = [create_job(http, "PrimeChecker", {"number": n}) for n in (30, 31, 32)]
    own_deployment.web.stop()
    own_deployment.web = own_deployment.start_web()
    http = HttpTransport(own_deployment.base_url)
    assert [wait_job(http, i)["status"] for i in ids] == ["completed"] * 3


def test_queue_limit_applies_and_nothing_accepted_is_lost(own_deployment):
    for worker in own_deployment.workers:
        worker.stop()
    http = HttpTransport(own_deployment.base_url)
    accepted = [create_job(http, "PrimeChecker", {"number": n}) for n in (40, 41, 42)]
    refused = http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": 43}})
    assert refused.status == 503
    assert refused.header("Retry-After")
    own_deployment.start_worker("worker")
    assert [wait_job(http, i)["status"] for i in accepted] == ["completed"] * 3


def stuck(params: dict) -> dict:
    """Sleeps with SIGALRM blocked: like a C call that never returns to Python, RQ's
    time limit cannot stop it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(params["seconds"])
    return {}


STUCK = Algorithm("Stuck", "0.1.0", "Sleeps, deaf to SIGALRM", SleepParams(), stuck,
                  example={"seconds": 0})


def test_time_limit_holds_even_for_a_job_deaf_to_sigalrm():
    algorithms = f"{JOBS_ENV['EXTRA_ALGORITHMS']},tests.test_scale_out:STUCK"
    with ScaleOut({**JOBS_ENV, "EXTRA_ALGORITHMS": algorithms, "JOB_TIMEOUT_SECONDS": "1"},
                  web_workers=1, job_workers=1) as deployment:
        http = HttpTransport(deployment.base_url)
        interrupted = wait_job(http, create_job(http, "Sleep", {"seconds": 30}), timeout=10)
        assert interrupted["status"] == "failed" and "JobTimeoutException" in interrupted["error"]
        started = time.monotonic()
        killed = wait_job(http, create_job(http, "Stuck", {"seconds": 30}), timeout=20)
        assert killed["status"] == "failed" and killed["error"] == TIMED_OUT
        assert time.monotonic() - started < 15, "1 s limit + 5 s grace + a tick"
        assert wait_job(http, create_job(http, "PrimeChecker", {"number": 9}))["status"] == "completed"


def test_worker_process_is_replaced_after_worker_max_jobs():
    with ScaleOut({**JOBS_ENV, "WORKER_MAX_JOBS": "3", "LOG_LEVEL": "DEBUG"},
                  web_workers=1, job_workers=1) as deployment:
        http = HttpTransport(deployment.base_url)
        ids = [create_job(http, "PrimeChecker", {"number": n}) for n in range(50, 57)]
        assert [wait_job(http, i)["status"] for i in ids] == ["completed"] * 7
        pids = {_worker_running(deployment, i)[1] for i in ids}
        assert len(pids) == 3, "3 + 3 + 1 jobs: a fresh process after every 3"
