"""POST /jobs and GET /jobs/{job_id}. Errors here are wrapped as {"detail": {...}}."""
from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app.web.auth import client_id
from app.docs.operations import IDEMPOTENCY_HEADER, REQUEST_ID_HEADER, body_errors, operation
from app.extensions import scaffold
from app.jobs.schemas import JobCreateResponse, JobStatusResponse
from app.web.json_body import json_object_body
from app.web.request_id import current_request_id

bp = Blueprint("jobs", __name__)
job_created = JobCreateResponse()
job_status = JobStatusResponse()

UNAVAILABLE = ("JobErrorResponse", "任务服务暂不可用 (Retry-After header)")
NOT_FOUND = ("JobErrorResponse", "任务不存在或已过期")
JOB_ID = {"job_id": "任务唯一标识(12位十六进制)"}


@bp.post("/jobs")
@operation("Jobs", "创建异步任务", "create_job", {
    202: ("JobCreateResponse", "任务已创建 (Location: /jobs/{job_id})"),
    200: ("JobCreateResponse", "Extension: the job an earlier request with this Idempotency-Key created"),
    **body_errors("JobErrorResponse"),
    409: ("JobErrorResponse", "Idempotency-Key reused with another body"),
    503: UNAVAILABLE,
}, description="创建异步任务,立即返回任务 ID,任务在后台执行", request="JobRequest",
    headers=(REQUEST_ID_HEADER, IDEMPOTENCY_HEADER))
def create_job() -> ResponseReturnValue:
    record, replayed = scaffold().jobs.create(
        json_object_body(), current_request_id(), request.headers.get(IDEMPOTENCY_HEADER["name"]),
        client_id(),
    )
    headers = {"Location": f"{request.script_root}/jobs/{record.job_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return job_created.dump(record), 200 if replayed else 202, headers


@bp.get("/jobs/<job_id>")
@operation("Jobs", "查询任务状态", "get_job_status",
           {200: ("JobStatusResponse", "成功"), 404: NOT_FOUND, 503: UNAVAILABLE},
           path_descriptions=JOB_ID)
def get_job(job_id: str) -> ResponseReturnValue:
    return job_status.dump(scaffold().jobs.get(job_id, client_id()))


@bp.delete("/jobs/<job_id>")
@operation("Jobs", "取消任务 (extension)", "cancel_job", {
    200: ("JobStatusResponse", "已取消"), 404: NOT_FOUND,
    409: ("JobErrorResponse", "任务已结束或不可取消"), 503: UNAVAILABLE,
}, description="Cancels a pending job, or a running one whose algorithm allows it; "
               "the job then reads `cancelled`.", path_descriptions=JOB_ID)
def cancel_job(job_id: str) -> ResponseReturnValue:
    return job_status.dump(scaffold().jobs.cancel(job_id, client_id()))
