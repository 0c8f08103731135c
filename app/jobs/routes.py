"""POST /jobs and GET /jobs/{job_id}. Errors here are wrapped as {"detail": {...}}."""
from __future__ import annotations

from flask import Response, jsonify, request

from app.auth import client_id
from app.extensions import scaffold
from app.jobs import bp
from app.jobs.model import iso
from app.json_body import json_object_body
from app.request_id import current_request_id

IDEMPOTENCY_HEADER = "Idempotency-Key"


@bp.post("/jobs")
def create_job() -> Response:
    """创建异步任务: 202 with the job id and a Location to poll.

    A repeat with the same Idempotency-Key and body answers 200 with the same job.
    """
    record, replayed = scaffold().jobs.create(
        json_object_body(), current_request_id(), request.headers.get(IDEMPOTENCY_HEADER),
        client_id(),
    )
    # The bodies here are built directly: the JobCreateResponse and JobStatusResponse
    # schemas document them (and the tests hold them to it), while `dump` checks nothing.
    response = jsonify({"job_id": record.job_id, "status": record.status, "message": "任务已创建",
                        "created_at": iso(record.created_at)})
    response.status_code = 200 if replayed else 202
    response.headers["Location"] = f"{request.script_root}/jobs/{record.job_id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    """查询任务状态: every documented field, null where it does not apply yet."""
    return jsonify(scaffold().jobs.get(job_id).public_view())


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    """Cancel a job (an extension): pending ones always, running ones if the algorithm allows."""
    return jsonify(scaffold().jobs.cancel(job_id).public_view())
