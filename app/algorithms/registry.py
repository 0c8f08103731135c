"""The algorithms this service serves. Adding one: write its module, add one line here."""
from __future__ import annotations

from app.algorithms import prime_checker
from app.algorithms.base import Algorithm

ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        prime_checker.ALGORITHM,
    )
}
