"""Reading a request body as JSON, strictly, once for every route: Flask's `get_json` would
accept `NaN`, make a 5000-digit number a 500, read `-1e400` as -Infinity, treat text/plain
as missing, admit a lone UTF-16 surrogate and parse a chunked body cut at the limit."""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from app.algorithms.fields import HugeNumber
from app.errors import InvalidInput
from app.validation import echo


def _parse_int(text: str) -> int | HugeNumber:
    try:
        return int(text)
    except ValueError:
        return HugeNumber(text)


def _parse_float(text: str) -> int | float | HugeNumber:
    """An integral one (`17.0`) is that integer, read exactly, as JSON Schema reads `type:
    integer`. One past a float's range stays its text: not -Infinity, nor 4300 digits."""
    approximate = float(text)
    if math.isinf(approximate):
        return HugeNumber(text)
    number = Decimal(text)
    if number != number.to_integral_value():
        return approximate
    return int(number)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: `json.loads(..., parse_int=...)` would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float,
                            parse_constant=_refuse_constant)


def loads(text: str | bytes) -> Any:
    """Decode JSON; NaN/Infinity are refused, numbers too large to hold are HugeNumbers."""
    if isinstance(text, bytes):
        # What json.loads does with bytes: UTF-8, or UTF-16/32 recognised by the first bytes.
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)


# The JSON name of each type `loads` gives but a dict, for messages a client can act on.
JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number",
              HugeNumber: "string", str: "string", list: "array"}
# A lone UTF-16 surrogate, which no UTF-8 text can hold.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate(value: Any) -> tuple[str, str] | None:
    """(dotted path, text) of the first key or string in `value` holding a lone surrogate."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path, item
        elif isinstance(item, dict):
            for key, inner in item.items():
                inner_path = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    return inner_path, key
                pending.append((inner_path, inner))
        elif isinstance(item, list):
            pending.extend((f"{path}.{index}", inner) for index, inner in enumerate(item))
    return None


def printable(text: str) -> str:
    """`text` with every lone surrogate written as its escape, `\\ud800`: safe to echo."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_object_body() -> dict[str, Any]:
    """The request body as a JSON object, or the documented 400/413/415 error."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    # Werkzeug stops reading a chunked body at the limit without raising.
    if (request.content_length is None and limit is not None and len(data) >= limit
            and request.input_stream.read(1)):
        raise RequestEntityTooLarge()
    if not data:
        raise InvalidInput("request body is required", field="body")
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        body = loads(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("request body is not valid JSON", field="body",
                           reason=str(exc)[:200]) from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", field="body",
                           value=JSON_TYPES[type(body)])
    # The usual ASCII body without escapes holds no surrogate: it is spared the walk.
    found = lone_surrogate(body) if b"\\u" in data or not data.isascii() else None
    if found:
        path = printable(found[0])
        raise InvalidInput(f"{path} holds a lone UTF-16 surrogate, which is not a character",
                           field=path, value=echo(printable(found[1])))
    return body

