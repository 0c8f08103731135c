"""The error envelopes every area sends and the OpenAPI document shows. Only marshmallow:
gunicorn's master dumps its own refusals through ErrorResponse too."""
from __future__ import annotations

from marshmallow import Schema, fields


class ErrorResponse(Schema):
    """错误响应: the top-level envelope of /invoke and every non-jobs route."""

    error = fields.String(required=True, metadata={"description": "错误代码"})
    message = fields.String(required=True, metadata={"description": "错误消息"})
    details = fields.Dict(allow_none=True, metadata={"description": "错误详情"})
    request_id = fields.String(allow_none=True, metadata={"description": "请求ID"})


class JobErrorResponse(Schema):
    """The jobs routes' envelope: the same error object wrapped under `detail`."""

    detail = fields.Nested(ErrorResponse, required=True)
