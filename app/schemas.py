"""Schemas shared by every area: the error envelopes.

The OpenAPI document is generated from these same classes, so what the docs say is
what the code validates and sends.
"""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema, fields

OPENAPI_VERSION = "3.1.0"


class ErrorResponse(Schema):
    """错误响应: the top-level envelope of /invoke and every non-jobs route."""

    error = fields.String(required=True, metadata={"description": "错误代码"})
    message = fields.String(required=True, metadata={"description": "错误消息"})
    details = fields.Dict(allow_none=True, metadata={"description": "错误详情"})
    request_id = fields.String(allow_none=True, metadata={"description": "请求ID"})


class JobErrorResponse(Schema):
    """The jobs routes' envelope: the same error object wrapped under `detail`, as the API document shows."""

    detail = fields.Nested(ErrorResponse, required=True)


_converter = OpenAPIConverter(OPENAPI_VERSION, lambda schema: None, APISpec("", "", OPENAPI_VERSION))


def json_schema(schema: Schema) -> dict[str, Any]:
    """A schema as a standalone JSON Schema (GET /algorithms shows each algorithm's params)."""
    return _converter.schema2jsonschema(schema)
