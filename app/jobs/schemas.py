"""Schemas of the jobs area, named as in the seed OpenAPI document; the routes dump job
records through them, so the body is what /openapi.json describes."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.jobs.model import CANCELLED, COMPLETED, FAILED, PENDING, RUNNING, iso

JOB_STATUSES = [PENDING, RUNNING, COMPLETED, FAILED, CANCELLED]
JOB_STATUS_SCHEMA = {
    "type": "string", "enum": JOB_STATUSES,
    "description": "任务状态枚举; `cancelled` is an extension (DELETE /jobs/{job_id})",
}

WEBHOOK_STATUSES = ["pending", "retrying", "delivered", "failed"]
WEBHOOK_STATUS_SCHEMA = {"type": "string", "enum": WEBHOOK_STATUSES,
                         "description": "Extension: where the webhook delivery stands"}


class Timestamp(fields.String):
    """A record's Unix seconds shown as `model.iso` does; a string in the docs."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso(value)


class JobRequest(Schema):
    """异步任务请求"""

    algorithm = fields.String(required=True, metadata={"description": "算法名称", "example": "PrimeChecker"})
    params = fields.Dict(required=True, metadata={"description": "算法参数", "example": {"number": 17}})
    webhook = fields.String(
        allow_none=True, load_default=None,
        metadata={"description": "回调 URL (http/https)", "format": "uri",
                  "example": "https://example.com/callback"},
    )


class JobCreateResponse(Schema):
    """任务创建响应"""

    job_id = fields.String(required=True, metadata={"description": "任务唯一标识", "example": "a1b2c3d4e5f6"})
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES),
                           metadata={"description": "任务状态"})
    message = fields.String(required=True, dump_default="任务已创建",
                            metadata={"description": "状态消息", "example": "任务已创建"})
    created_at = Timestamp(required=True, metadata={"description": "创建时间(ISO 8601)"})


class JobStatusResponse(Schema):
    """任务状态查询响应"""

    job_id = fields.String(required=True, metadata={"description": "任务唯一标识"})
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES),
                           metadata={"description": "任务状态"})
    algorithm = fields.String(required=True, metadata={"description": "算法名称"})
    created_at = Timestamp(required=True, metadata={"description": "创建时间(ISO 8601)"})
    started_at = Timestamp(required=True, allow_none=True, metadata={"description": "开始执行时间(ISO 8601)"})
    completed_at = Timestamp(required=True, allow_none=True, metadata={"description": "完成时间(ISO 8601)"})
    result = fields.Dict(required=True, allow_none=True, metadata={"description": "执行结果(仅完成时返回)"})
    error = fields.String(required=True, allow_none=True, metadata={"description": "错误信息(仅失败时返回)"})
    metadata = fields.Dict(required=True, allow_none=True, metadata={"description": "元数据信息"})
    webhook_status = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(WEBHOOK_STATUSES),
        metadata={"description": "Extension: webhook delivery state; null when no webhook"},
    )
    webhook_attempts = fields.Integer(
        required=True, metadata={"description": "Extension: webhook attempts made so far"}
    )
