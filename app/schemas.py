"""Schemas shared by every area: the error envelopes and the custom fields.

The OpenAPI document is generated from these same classes, so what the docs say is
what the code validates and sends.
"""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema, ValidationError, fields

from app.web.json_body import HugeInteger

OPENAPI_VERSION = "3.1.0"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Int64(fields.Integer):
    """A JSON integer in the signed 64-bit range: no strings, floats or booleans.

    Every client language holds this range exactly, which is why the contract uses it.
    """

    default_error_messages = {
        "invalid": "{name} must be an integer",
        "null": "{name} must be an integer",
        "required": "{name} is required",
        "range": f"{{name}} must be between {INT64_MIN} and {INT64_MAX}",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
        self.metadata.setdefault("minimum", INT64_MIN)
        self.metadata.setdefault("maximum", INT64_MAX)

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        return super().make_error(key, name=self.name, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, HugeInteger):
            raise self.make_error("range")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not INT64_MIN <= number <= INT64_MAX:
            raise self.make_error("range")
        return number

    @property
    def allowed_range(self) -> dict[str, int]:
        return {"minimum": INT64_MIN, "maximum": INT64_MAX}


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
