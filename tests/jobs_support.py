"""Helpers for the job tests: create a job, and wait for it to reach a state."""
from __future__ import annotations

from typing import Any

from tests.servers import wait_for
from tests.transports import Transport


def create_job(http: Transport, algorithm: str, params: dict[str, Any], webhook: str | None = None,
               headers: dict[str, str] | None = None) -> str:
    body: dict[str, Any] = {"algorithm": algorithm, "params": params}
    if webhook is not None:
        body["webhook"] = webhook
    reply = http.post_json("/jobs", body, headers)
    assert reply.status == 202, reply.text
    return reply.json()["job_id"]


def job(http: Transport, job_id: str) -> dict[str, Any]:
    reply = http.get(f"/jobs/{job_id}")
    assert reply.status == 200, reply.text
    return reply.json()


def wait_job(http: Transport, job_id: str, until: set[str] | None = None,
             timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
    """Poll GET /jobs/{id} until its status is in `until` and the given fields match."""
    until = until or {"completed", "failed"}

    def reached():
        record = job(http, job_id)
        matches = all(record.get(k) == v for k, v in fields.items())
        return record if record["status"] in until and matches else None

    return wait_for(reached, timeout, message=f"job {job_id} to reach {until} {fields}")
