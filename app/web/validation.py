"""Loading request data with a marshmallow schema, failing with the documented 400.

The contract wants `details.field` to name the offending field and `details.value`
to echo what was sent, truncated when long; marshmallow's nested message dict is
flattened here into that shape.
"""
from __future__ import annotations

from typing import Any, Iterator

from marshmallow import Schema, ValidationError

from app.web.errors import ApiError, validation_error
from app.algorithms.fields import HugeNumber, Int64
from app.web.json_body import echo

_MISSING = object()


def load(schema: Schema, data: dict[str, Any], path_prefix: str = "") -> dict[str, Any]:
    """`schema.load(data)`, or a 400 VALIDATION_ERROR naming the first bad field."""
    try:
        return schema.load(data)
    except ValidationError as err:
        raise _to_api_error(err, schema, data, path_prefix) from None


def _to_api_error(
    err: ValidationError, schema: Schema, data: dict[str, Any], prefix: str
) -> ApiError:
    problems = sorted(_flatten(err.messages))
    path, message = problems[0]
    field_name = path[0] if path else "_schema"
    dotted = prefix + ".".join(str(p) for p in path)
    if message == "Unknown field.":
        message = f"{dotted} is not a known field"
    elif not message.startswith(field_name):
        message = f"{dotted}: {message}"
    details: dict[str, Any] = {"field": dotted}
    value = _lookup(data, path)
    if value is not _MISSING:
        details["value"] = echo(value)
    field = schema.fields.get(field_name)
    if isinstance(field, Int64) and _is_integer(value):  # an integer Int64 refused: out of range
        details["allowed_range"] = field.allowed_range
    if len(problems) > 1:
        details["errors"] = {prefix + ".".join(map(str, p)): m for p, m in problems}
    return validation_error(message, **details)


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, HugeNumber)) and not isinstance(value, bool)


def _flatten(messages: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _flatten(inner, path + (key,))
    elif isinstance(messages, list):
        for inner in messages:
            yield from _flatten(inner, path)
    else:
        yield path, str(messages)


def _lookup(data: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return _MISSING
    return data
