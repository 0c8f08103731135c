"""The bad requests every validating route must answer with the documented envelope.

Shared by the in-process tests and the tests against a real gunicorn, so both see the
same list.
"""
from __future__ import annotations

from dataclasses import dataclass

JSON = "application/json"


@dataclass(frozen=True)
class BadInput:
    name: str
    body: bytes
    content_type: str | None
    status: int
    code: str
    field: str | None = None

    def __str__(self) -> str:
        return self.name


# Numbers no float holds, integral or not: read as floats they would echo as ±Infinity.
PAST_A_FLOAT = ["-1e400", "1e400", "-1.5e999", "1.8e308", "1" + "0" * 400 + ".5",
                "-1" + "0" * 400 + ".5"]


def number_body(raw: str) -> bytes:
    return ('{"number": %s}' % raw).encode()


BAD_INVOKE_INPUTS = [
    BadInput("string abc", number_body('"abc"'), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("string 17", number_body('"17"'), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("float 17.5", number_body("17.5"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("float 17.5e-1", number_body("17.5e-1"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("float 1e-400", number_body("1e-400"), JSON, 400, "VALIDATION_ERROR", "number"),
    # Integral, so integers, but past a float's range: echoed as JSON, never as Infinity.
    BadInput("-1e400", number_body("-1e400"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("1e5000", number_body("1e5000"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("9.3e18", number_body("9.3e18"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("1e19", number_body("1e19"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("true", number_body("true"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("null", number_body("null"), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("missing field", b"{}", JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("unknown field", b'{"number": 17, "extra": 1}', JSON, 400, "VALIDATION_ERROR", "extra"),
    BadInput("array body", b"[]", JSON, 400, "VALIDATION_ERROR", "body"),
    BadInput("bare 17 body", b"17", JSON, 400, "VALIDATION_ERROR", "body"),
    BadInput("broken JSON", b'{"number": ', JSON, 400, "VALIDATION_ERROR", "body"),
    BadInput("NaN", number_body("NaN"), JSON, 400, "VALIDATION_ERROR", "body"),
    BadInput("empty body", b"", JSON, 400, "VALIDATION_ERROR", "body"),
    BadInput("text/plain", number_body("17"), "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    BadInput("form encoded", b"number=17", "application/x-www-form-urlencoded", 415,
             "UNSUPPORTED_MEDIA_TYPE"),
    BadInput("5000-digit integer", number_body("9" * 5000), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("5000-digit string", number_body('"%s"' % ("9" * 5000)), JSON, 400, "VALIDATION_ERROR",
             "number"),
    BadInput("2^63", number_body(str(2**63)), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("-2^63-1", number_body(str(-(2**63) - 1)), JSON, 400, "VALIDATION_ERROR", "number"),
    BadInput("invalid UTF-8", b'{"number": "\xff"}', JSON, 400, "VALIDATION_ERROR", "body"),
    # Lone UTF-16 surrogates: JSON's grammar admits them, UTF-8 cannot hold them.
    BadInput("lone surrogate escape", number_body('"\\ud800"'), JSON, 400, "VALIDATION_ERROR",
             "number"),
    BadInput("lone surrogate in a key", b'{"\\udfff": 1}', JSON, 400, "VALIDATION_ERROR",
             "\\udfff"),
    BadInput("UTF-8-encoded surrogate", b'{"number": "\xed\xa0\x80"}', JSON, 400,
             "VALIDATION_ERROR", "number"),
]
