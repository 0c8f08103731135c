"""POST /jobs and GET /jobs/{job_id}: the documented lifecycle and envelopes."""
from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

from tests.bad_inputs import BAD_INVOKE_INPUTS, PAST_A_FLOAT, BadInput
from tests.jobs_support import create_job, wait_job
from tests.servers import Service, wait_for
from tests.transports import HttpTransport

RECORD_FIELDS = {"job_id", "status", "algorithm", "created_at", "started_at", "completed_at",
                 "result", "error", "metadata", "webhook_status", "webhook_attempts"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def test_create_answers_202_with_location(jobs_http):
    reply = jobs_http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": 17}})
    assert reply.status == 202
    body = reply.json()
    assert set(body) == {"job_id", "status", "message", "created_at"}
    assert re.fullmatch(r"[0-9a-f]{12}", body["job_id"])
    assert body["status"] == "pending"
    assert body["message"] == "任务已创建"
    assert ISO_UTC.fullmatch(body["created_at"])
    assert reply.header("Location").endswith(f"/jobs/{body['job_id']}")
    assert reply.header("X-Request-Id")


def test_completed_job_equals_invoke(jobs_http):
    job_id = create_job(jobs_http, "PrimeChecker", {"number": 1001})
    record = wait_job(jobs_http, job_id)
    assert set(record) == RECORD_FIELDS
    assert record["status"] == "completed"
    invoked = jobs_http.post_json("/invoke", {"number": 1001}).json()
    assert record["result"] == invoked["result"]
    assert record["metadata"]["algorithm"] == "PrimeChecker"
    assert record["metadata"]["version"] == "1.0.0"
    assert record["error"] is None
    assert record["webhook_status"] is None and record["webhook_attempts"] == 0
    times = [datetime.fromisoformat(record[k]) for k in ("created_at", "started_at", "completed_at")]
    assert all(ISO_UTC.fullmatch(record[k]) for k in ("created_at", "started_at", "completed_at"))
    assert times == sorted(times)


def test_failed_job_has_one_line_error_and_null_result(jobs_http):
    job_id = create_job(jobs_http, "PositiveOnly", {"number": -5})
    record = wait_job(jobs_http, job_id)
    assert record["status"] == "failed"
    assert record["error"] == "Invalid input: number must be positive"
    assert record["result"] is None and record["metadata"] is None
    assert record["started_at"] is not None and record["completed_at"] is not None


def test_running_job_shows_nulls_where_not_applicable(jobs_http):
    job_id = create_job(jobs_http, "Sleep", {"seconds": 1.5})
    record = wait_job(jobs_http, job_id, until={"running"})
    assert set(record) == RECORD_FIELDS
    assert record["started_at"] is not None
    assert record["completed_at"] is None and record["result"] is None and record["error"] is None
    assert wait_job(jobs_http, job_id)["status"] == "completed"


def test_unknown_algorithm_is_wrapped_404(jobs_http):
    reply = jobs_http.post_json("/jobs", {"algorithm": "NonExistent", "params": {}})
    assert reply.status == 404
    detail = reply.json()["detail"]
    assert detail["error"] == "ALGORITHM_NOT_FOUND"
    assert detail["message"] == "算法 'NonExistent' 不存在"
    assert "PrimeChecker" in detail["details"]["available_algorithms"]
    assert detail["request_id"] == reply.header("X-Request-Id")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"algorithm": "PrimeChecker", "params": {"number": "abc"}}, "params.number"),
        ({"algorithm": "PrimeChecker", "params": {}}, "params.number"),
        ({"algorithm": "PrimeChecker", "params": {"number": 2**63}}, "params.number"),
        ({"algorithm": "PrimeChecker"}, "params"),
        ({"params": {"number": 1}}, "algorithm"),
        ({"algorithm": "PrimeChecker", "params": [1]}, "params"),
        ({"algorithm": 5, "params": {"number": 1}}, "algorithm"),
        ({"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": "ftp://x/y"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": "/relative"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": 7}, "webhook"),
        ({"algorithm": "\ud800", "params": {}}, "algorithm"),
        ({"algorithm": "PrimeChecker", "params": {"\udfff": 1}}, "params.\\udfff"),
    ],
)
def test_invalid_job_requests_are_wrapped_400(jobs_http, body, field):
    reply = jobs_http.post_json("/jobs", body)
    assert reply.status == 400, reply.text
    detail = reply.json()["detail"]
    assert detail["error"] == "VALIDATION_ERROR"
    assert detail["details"]["field"] == field


def test_integral_params_are_integers_and_huge_ones_echo_as_sent(jobs_http):
    reply = jobs_http.request("POST", "/jobs",
                              b'{"algorithm": "PrimeChecker", "params": {"number": 1.7e1}}',
                              "application/json")
    assert reply.status == 202, reply.text
    for raw in PAST_A_FLOAT:
        body = '{"algorithm": "PrimeChecker", "params": {"number": %s}}' % raw
        reply = jobs_http.request("POST", "/jobs", body.encode(), "application/json")
        assert reply.status == 400
        details = reply.json()["detail"]["details"]  # strict JSON: no -Infinity in it
        assert details["field"] == "params.number"
        assert details["value"].startswith(raw[:64])


def test_params_message_matches_invoke(jobs_http):
    reply = jobs_http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": "abc"}})
    assert reply.json()["detail"]["message"] == "number must be an integer"


@pytest.mark.parametrize("bad", [b for b in BAD_INVOKE_INPUTS if b.field in ("body", None)], ids=str)
def test_bad_bodies_are_wrapped(jobs_http, bad: BadInput):
    reply = jobs_http.request("POST", "/jobs", bad.body, bad.content_type)
    assert reply.status == bad.status
    assert set(reply.json()) == {"detail"}
    assert reply.json()["detail"]["error"] == bad.code


@pytest.mark.parametrize("job_id", ["0123456789ab", "nothex", "ABCDEF012345"])
def test_unknown_or_malformed_job_id_is_wrapped_404(jobs_http, job_id):
    reply = jobs_http.get(f"/jobs/{job_id}")
    assert reply.status == 404
    detail = reply.json()["detail"]
    assert detail["error"] == "JOB_NOT_FOUND"
    assert detail["message"] == f"任务 '{job_id}' 不存在或已过期"


@pytest.mark.parametrize("job_id", ["x" * 5000, "%00%ff", "a%2Fb"])
def test_hostile_job_ids_are_404_not_500(jobs_http, job_id):
    reply = jobs_http.get(f"/jobs/{job_id}")
    assert reply.status in (404, 414)  # 414: gunicorn's request-line limit, answered as JSON
    body = reply.json()
    error = body["detail"]["error"] if "detail" in body else body["error"]
    assert error in ("JOB_NOT_FOUND", "NOT_FOUND", "URI_TOO_LONG")
    assert len(reply.text) < 1000


def test_wrong_method_on_jobs_is_wrapped_405(jobs_http):
    reply = jobs_http.request("DELETE", "/jobs")
    assert reply.status == 405
    assert reply.json()["detail"]["error"] == "METHOD_NOT_ALLOWED"


def _log_lines(deployment) -> list[dict]:
    """Every JSON log line of a deployment: the web process, and its workers in scale-out."""
    processes = [deployment] if isinstance(deployment, Service) else [deployment.web,
                                                                      *deployment.workers]
    return [line for process in processes for line in process.json_lines()]


def test_request_id_is_kept_with_the_job(deployment):
    http = HttpTransport(deployment.base_url)
    request_id = f"trace-{uuid.uuid4().hex}"
    reply = http.post_json("/jobs", {"algorithm": "PrimeChecker", "params": {"number": 3}},
                           headers={"X-Request-Id": request_id})
    assert reply.header("X-Request-Id") == request_id
    job_id = reply.json()["job_id"]
    wait_job(http, job_id)
    # Written by the thread or worker that ran the job, long after the request ended.
    finished = wait_for(lambda: [line for line in _log_lines(deployment)
                                 if line.get("job_id") == job_id
                                 and line["message"] == "job finished"],
                        message=f"the 'job finished' line of job {job_id}")
    assert [line["request_id"] for line in finished] == [request_id]
