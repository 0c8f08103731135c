"""Additions beyond the documented contract: Idempotency-Key and cancelling, both modes."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.jobs_support import create_job, job, wait_job
from tests.metrics_support import scrape_delta
from tests.transports import ClientTransport, HttpTransport

BODY = {"algorithm": "PrimeChecker", "params": {"number": 1009}}


def test_same_key_and_body_return_the_same_job(jobs_http):
    headers = {"Idempotency-Key": "order-1"}
    first = jobs_http.post_json("/jobs", BODY, headers)
    again = jobs_http.post_json("/jobs", BODY, headers)
    assert first.status == 202
    assert again.status == 200
    assert again.header("Idempotent-Replayed") == "true"
    assert again.json()["job_id"] == first.json()["job_id"]
    other = jobs_http.post_json("/jobs", BODY, {"Idempotency-Key": "order-2"})
    assert other.json()["job_id"] != first.json()["job_id"]


def test_same_key_with_another_body_is_409(jobs_http):
    headers = {"Idempotency-Key": "order-3"}
    assert jobs_http.post_json("/jobs", BODY, headers).status == 202
    reply = jobs_http.post_json("/jobs", {**BODY, "params": {"number": 7}}, headers)
    assert reply.status == 409
    assert reply.json()["detail"]["error"] == "CONFLICT"


def test_concurrent_duplicates_create_exactly_one_job(deployment):
    http = HttpTransport(deployment.base_url)
    headers = {"Idempotency-Key": "burst-1"}
    with scrape_delta(http, "jobs_created_total") as created:
        with ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(
                lambda _: HttpTransport(deployment.base_url).post_json("/jobs", BODY, headers),
                range(24),
            ))
    assert {r.json()["job_id"] for r in replies} == {replies[0].json()["job_id"]}
    assert sorted(r.status for r in replies) == [200] * 23 + [202]
    assert created(algorithm="PrimeChecker") == 1


def test_cancel_a_pending_job(jobs_http):
    sleepers = [create_job(jobs_http, "Sleep", {"seconds": 1.0}) for _ in range(4)]
    waiting = create_job(jobs_http, "PrimeChecker", {"number": 5})
    reply = jobs_http.request("DELETE", f"/jobs/{waiting}")
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "cancelled"
    for sleeper in sleepers:
        wait_job(jobs_http, sleeper)
    record = job(jobs_http, waiting)
    assert record["status"] == "cancelled" and record["result"] is None
    assert record["completed_at"] is not None


def test_cancel_a_running_job_only_where_the_algorithm_allows(jobs_http):
    stubborn = create_job(jobs_http, "Sleep", {"seconds": 1.5})
    wait_job(jobs_http, stubborn, until={"running"})
    refused = jobs_http.request("DELETE", f"/jobs/{stubborn}")
    assert refused.status == 409
    assert refused.json()["detail"]["details"]["status"] == "running"

    napping = create_job(jobs_http, "Nap", {"seconds": 0.5})  # ends before `stubborn` does
    wait_job(jobs_http, napping, until={"running"})
    assert jobs_http.request("DELETE", f"/jobs/{napping}").json()["status"] == "cancelled"
    assert wait_job(jobs_http, stubborn)["status"] == "completed"
    assert job(jobs_http, napping)["status"] == "cancelled", "its late result is discarded"


def test_cancel_finished_or_unknown(jobs_http):
    done = create_job(jobs_http, "PrimeChecker", {"number": 8})
    wait_job(jobs_http, done)
    assert jobs_http.request("DELETE", f"/jobs/{done}").status == 409
    missing = jobs_http.request("DELETE", "/jobs/0123456789ab")
    assert missing.status == 404
    assert missing.json()["detail"]["error"] == "JOB_NOT_FOUND"


KEYS = ("client-a-key-0123456789", "client-b-key-9876543210")


@pytest.fixture(params=["embedded", "scale_out"])
def keyed_jobs(request, make_app):
    """POST /jobs with API keys on, on either backend (scale-out: the web side on Redis)."""
    config = {"api_keys": frozenset(KEYS)}
    if request.param == "scale_out":
        # A database of its own: the jobs queued here are never run, and must not show
        # in other tests' queue figures.
        config["redis_url"] = request.getfixturevalue("redis_server").url.replace("/0", "/1")
    return ClientTransport(make_app(config).test_client())


def test_idempotency_keys_are_scoped_to_the_api_key(keyed_jobs):
    """Stripe's rule: another client's Idempotency-Key is a different key."""
    a, b = {"X-API-Key": KEYS[0]}, {"X-API-Key": KEYS[1]}
    key = {"Idempotency-Key": f"scoped-{uuid.uuid4().hex}"}
    first = keyed_jobs.post_json("/jobs", BODY, {**a, **key})
    assert first.status == 202

    by_b = keyed_jobs.post_json("/jobs", BODY, {**b, **key})
    assert by_b.status == 202 and by_b.header("Idempotent-Replayed") is None
    assert by_b.json()["job_id"] != first.json()["job_id"]
    other_body = keyed_jobs.post_json("/jobs", {**BODY, "params": {"number": 7}},
                                      {"Authorization": f"Bearer {KEYS[1]}", **key})
    assert other_body.status == 409, "B's own key, used by B with another body"

    again_by_a = keyed_jobs.post_json("/jobs", BODY, {"Authorization": f"Bearer {KEYS[0]}", **key})
    assert again_by_a.status == 200 and again_by_a.header("Idempotent-Replayed") == "true"
    assert again_by_a.json()["job_id"] == first.json()["job_id"]
