"""A second algorithm, written exactly as the README tells an algorithm author to."""
from __future__ import annotations

import math
from typing import Any

from marshmallow import Schema

from app.algorithms.base import Algorithm
from app.schemas import Int64


class GcdParams(Schema):
    a = Int64(required=True)
    b = Int64(required=True)


def run(params: dict[str, Any]) -> dict[str, Any]:
    return {"gcd": math.gcd(params["a"], params["b"])}


ALGORITHM = Algorithm(
    name="Gcd",
    version="0.1.0",
    description="Greatest common divisor of two int64 values",
    params_schema=GcdParams(),
    run=run,
    example={"a": 12, "b": 18},
)
