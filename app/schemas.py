"""Schemas shared by every area: the error envelopes.

The OpenAPI document is generated from these same classes, so what the docs say is
what the code sends. Only marshmallow is imported: gunicorn's master dumps its own
refusals through ErrorResponse too (app/serving/server_errors.py).
"""
from __future__ import annotations

from marshmallow import Schema, fields


class ErrorResponse(Schema):
    """错误响应: the top-level envelope of /invoke and every non-jobs route."""

    error = fields.String(required=True, metadata={"description": "错误代码"})
    message = fields.String(required=True, metadata={"description": "错误消息"})
    details = fields.Dict(allow_none=True, metadata={"description": "错误详情"})
    request_id = fields.String(allow_none=True, metadata={"description": "请求ID"})


class JobErrorResponse(Schema):
    """The jobs routes' envelope: the same error object wrapped under `detail`, as the API document shows."""

    detail = fields.Nested(ErrorResponse, required=True)
