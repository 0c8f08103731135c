"""Algorithms for the tests. `Gcd` is written exactly as the README tells an algorithm
author to; `SLEEP` and `FAILING` give the job tests slow and failing work."""
from __future__ import annotations

import math
import time
from typing import Any

from marshmallow import Schema, fields, validate

from app.algorithms.base import Algorithm, AlgorithmInputError
from app.algorithms.prime_checker import PrimeCheckerParams
from app.algorithms.fields import Int64


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


class SleepParams(Schema):
    seconds = fields.Float(required=True, validate=validate.Range(min=0, max=60))


def sleep(params: dict[str, Any]) -> dict[str, Any]:
    time.sleep(params["seconds"])
    return {"slept": params["seconds"]}


# A slow job, for queue limits and shutdown; NAP is the same, but cancellable while running.
SLEEP = Algorithm("Sleep", "0.1.0", "Sleeps for `seconds`", SleepParams(), sleep,
                  example={"seconds": 0})
NAP = Algorithm("Nap", "0.1.0", "Sleeps for `seconds`; cancellable", SleepParams(), sleep,
                example={"seconds": 0}, cancellable=True)


def positive_only(params: dict[str, Any]) -> dict[str, Any]:
    if params["number"] <= 0:
        raise AlgorithmInputError("Invalid input: number must be positive")
    return {"number": params["number"]}


# Fails for number <= 0, as the API document's failed-job example does.
POSITIVE_ONLY = Algorithm("PositiveOnly", "0.1.0", "Fails for numbers below 1",
                          PrimeCheckerParams(), positive_only, example={"number": 1})
