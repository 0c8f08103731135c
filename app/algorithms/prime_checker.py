"""PrimeChecker: is an int64 prime, and what are its prime factors? Trial division for
small numbers, FLINT (python-flint) for the rest: it proves every factor prime and splits
the hardest int64s in under a millisecond."""
from __future__ import annotations

from typing import Any

from flint import fmpz
from marshmallow import Schema, fields

from app.algorithms.base import Algorithm
from app.algorithms.fields import INT64_MAX, INT64_MIN, Int64

TRIAL_DIVISION = "trial_division"
FLINT = "flint"
# Below this, trial division needs at most 50 odd divisors, about as long as one call
# into FLINT takes; it keeps the method the contract shows for small numbers (17).
TRIAL_DIVISION_BELOW = 10_000


class PrimeCheckerParams(Schema):
    """同步调用请求: the number to check."""

    number = Int64(required=True, metadata={"description": "待判断的整数", "example": 17})


class PrimeCheckerResult(Schema):
    number = fields.Integer(required=True)
    is_prime = fields.Boolean(required=True)
    factors = fields.List(fields.Integer(), required=True, metadata={
        "description": "Prime factorisation with multiplicity, ascending; [] for primes and "
                       "numbers below 2"})
    algorithm = fields.String(required=True, metadata={
        "description": "The method that decided: trial_division for numbers below "
                       f"{TRIAL_DIVISION_BELOW} (0, 1 and negatives included), flint "
                       "(FLINT's proven factorisation, python-flint) for all others"})


def factorize(n: int) -> tuple[list[int], str]:
    """The prime factors of an int64 with multiplicity, ascending ([] for primes and numbers
    below 2), and the method used. Anything but an int64 raises: fmpz would take it."""
    if type(n) is not int:
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{n} is outside the signed 64-bit range")
    if n < TRIAL_DIVISION_BELOW:
        factors, method = _trial_division(n), TRIAL_DIVISION
    else:  # FLINT gives [(prime, exponent), ...] in no promised order
        factors = sorted(int(p) for p, e in fmpz(n).factor() for _ in range(e))
        method = FLINT
    return ([] if factors == [n] else factors), method


def _trial_division(n: int) -> list[int]:
    """All prime factors of a small n, ascending; [] for n below 2."""
    factors = []
    divisor = 2
    while divisor * divisor <= n:
        while n % divisor == 0:
            factors.append(divisor)
            n //= divisor
        divisor += 1 if divisor == 2 else 2
    return factors + [n] if n > 1 else factors


def run(params: dict[str, Any]) -> dict[str, Any]:
    number = params["number"]
    factors, method = factorize(number)
    return {"number": number, "is_prime": number >= 2 and not factors, "factors": factors,
            "algorithm": method}


ALGORITHM = Algorithm(
    name="PrimeChecker",
    version="1.0.0",
    description="判断一个 64 位整数是否为质数,并给出质因数分解",
    params_schema=PrimeCheckerParams(),
    run=run,
    example={"number": 17},
    result_schema=PrimeCheckerResult(),
)
