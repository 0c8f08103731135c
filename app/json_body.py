"""Reading a request body as JSON, strictly and safely.

Flask's `get_json` would accept `NaN`, turn a 5000-digit number into a 500 (Python
refuses int conversion past 4300 digits) and treat text/plain as missing. This module
decides each of those cases once, for every route.
"""
from __future__ import annotations

import json
from typing import Any

from flask import request

from app.errors import ApiError, validation_error


class HugeInteger(str):
    """A JSON integer too long for Python to convert; schemas answer it with a range error."""

    def __repr__(self) -> str:
        return f"HugeInteger({len(self)} digits)"


def _parse_int(text: str) -> int | HugeInteger:
    try:
        return int(text)
    except ValueError:
        return HugeInteger(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: `json.loads(..., parse_int=...)` would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_refuse_constant)


def loads(text: str | bytes) -> Any:
    """Decode JSON; NaN/Infinity are refused and oversized integers become HugeInteger."""
    if isinstance(text, bytes):
        # What json.loads does with bytes: UTF-8, or UTF-16/32 recognised by the first bytes.
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages a client can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def json_object_body() -> dict[str, Any]:
    """The request body as a JSON object, or the documented 400/415 error."""
    data = request.get_data(cache=True)
    if not data:
        raise validation_error("request body is required", field="body")
    if not request.is_json:
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "request body must be JSON (Content-Type: application/json)",
            {"content_type": (request.content_type or "")[:100]},
        )
    try:
        body = loads(data)
    except (ValueError, RecursionError) as exc:
        raise validation_error("request body is not valid JSON", field="body",
                               reason=str(exc)[:200]) from None
    if not isinstance(body, dict):
        raise validation_error("request body must be a JSON object", field="body",
                               value=json_type(body))
    return body
