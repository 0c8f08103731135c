"""Checking client input against the documented rules, whichever layer received it:
marshmallow's messages become one InvalidInput naming the field and echoing the value."""
from __future__ import annotations

import json
from typing import Any, Iterator

from marshmallow import Schema, ValidationError

from app.algorithms.fields import HugeNumber, Int64
from app.errors import InvalidInput

MAX_ECHO_CHARS = 64
MAX_TOKEN_LENGTH = 128


def is_sane(value: str) -> bool:
    """Printable ASCII without spaces, at most 128 characters: safe in logs and headers."""
    return (0 < len(value) <= MAX_TOKEN_LENGTH and value.isascii() and value.isprintable()
            and " " not in value)


def echo(value: Any) -> Any:
    """The offending value as sent, or its JSON text cut to MAX_ECHO_CHARS when long."""
    if isinstance(value, (bool, float)) or value is None:
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_ECHO_CHARS:
        return value
    return f"{text[:MAX_ECHO_CHARS]}… ({len(text)} characters)"


_MISSING = object()


def load(schema: Schema, data: dict[str, Any], path_prefix: str = "") -> dict[str, Any]:
    """`schema.load(data)`, or InvalidInput naming the first bad field."""
    try:
        return schema.load(data)
    except ValidationError as err:
        problems = sorted(_flatten(err.messages))
    path, message = problems[0]
    field_name = path[0] if path else "_schema"
    dotted = path_prefix + ".".join(str(p) for p in path)
    if message == "Unknown field.":
        message = f"{dotted} is not a known field"
    elif not message.startswith(field_name):
        message = f"{dotted}: {message}"
    details: dict[str, Any] = {"field": dotted}
    value = _lookup(data, path)
    if value is not _MISSING:
        details["value"] = echo(value)
    field = schema.fields.get(field_name)
    # An integer Int64 refused is out of its range.
    if (isinstance(field, Int64) and isinstance(value, (int, HugeNumber))
            and not isinstance(value, bool)):
        details["allowed_range"] = field.allowed_range
    if len(problems) > 1:
        details["errors"] = {path_prefix + ".".join(map(str, p)): m for p, m in problems}
    raise InvalidInput(message, **details)


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
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON, the way a store would keep it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def check_params_size(params: Any, max_bytes: int) -> None:
    size = json_size(params)
    if size > max_bytes:
        raise InvalidInput(f"params must be at most {max_bytes} bytes of JSON, not {size}",
                           field="params", value=echo(params), max_bytes=max_bytes)
