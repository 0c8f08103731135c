"""Fields for algorithms' params schemas, with nothing of the web: algorithms import them."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields


class HugeNumber(str):
    """A JSON number too large to hold (past Python's 4300 digits, or a float's range),
    kept as the text sent (app/web/json_body.py); Int64 answers it with a range error."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"HugeNumber({len(self)} characters)"


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Int64(fields.Integer):
    """An integer in the signed 64-bit range, which every client language holds exactly: no
    strings, fractions or booleans (17.0 arrives as the int 17)."""

    default_error_messages = {
        "invalid": "{name} must be an integer",
        "null": "{name} must be an integer",
        "required": "{name} is required",
        "range": f"{{name}} must be between {INT64_MIN} and {INT64_MAX}",
    }
    allowed_range = {"minimum": INT64_MIN, "maximum": INT64_MAX}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
        self.metadata.update(self.allowed_range | self.metadata)  # in the docs, unless given

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        return super().make_error(key, name=self.name, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, HugeNumber):
            raise self.make_error("range")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not INT64_MIN <= number <= INT64_MAX:
            raise self.make_error("range")
        return number
