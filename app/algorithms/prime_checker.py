"""PrimeChecker: is an int64 prime, and what are its prime factors?

The number theory lives in `number_theory.py`; this module is only the service-facing
part every algorithm has: name, version, params schema, result schema, run function.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from app.algorithms.base import Algorithm
from app.algorithms.number_theory import factorize
from app.schemas import Int64


class PrimeCheckerParams(Schema):
    """同步调用请求: the number to check."""

    number = Int64(required=True, metadata={"description": "待判断的整数", "example": 17})


class PrimeCheckerResult(Schema):
    number = fields.Integer(required=True)
    is_prime = fields.Boolean(required=True)
    factors = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "Prime factorisation with multiplicity, ascending; [] for primes and numbers below 2"},
    )
    algorithm = fields.String(
        required=True,
        metadata={"description": "The method that decided: trial_division, miller_rabin, pollard_brent or ecm"},
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    number = params["number"]
    factors, method = factorize(number)
    # factorize gives [] both for primes and for numbers below 2.
    prime = number >= 2 and not factors
    return {"number": number, "is_prime": prime, "factors": factors, "algorithm": method}


ALGORITHM = Algorithm(
    name="PrimeChecker",
    version="1.0.0",
    description="判断一个 64 位整数是否为质数,并给出质因数分解",
    params_schema=PrimeCheckerParams(),
    run=run,
    example={"number": 17},
    result_schema=PrimeCheckerResult(),
)
