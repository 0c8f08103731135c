"""Fields for algorithms' params schemas.

They depend on nothing of the web: an algorithm module imports them, and the request
layer (app/web/json_body.py) produces the HugeNumber they refuse.
"""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields


class HugeNumber(str):
    """A JSON number too large to hold: an integer past Python's 4300 digits, or any
    number past a float's range (`-1e400`). It stays the text sent, so an echo of it is
    JSON and `1e4299` stays six characters, never an int of 4300 digits; Int64 answers it
    with a range error."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"HugeNumber({len(self)} characters)"


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Int64(fields.Integer):
    """An integer in the signed 64-bit range: no strings, fractions or booleans (an
    integral JSON number such as 17.0 reaches it as the int 17, app/web/json_body.py).

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
        if isinstance(value, HugeNumber):
            raise self.make_error("range")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not INT64_MIN <= number <= INT64_MAX:
            raise self.make_error("range")
        return number

    @property
    def allowed_range(self) -> dict[str, int]:
        return {"minimum": INT64_MIN, "maximum": INT64_MAX}
