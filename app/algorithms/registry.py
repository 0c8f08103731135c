"""The algorithms this service serves. Adding one: write its module, add one line here;
EXTRA_ALGORITHMS (`package.module:ATTRIBUTE,...`) adds ones from outside the repository."""
from __future__ import annotations

import importlib
from typing import Iterable, Mapping

from app.algorithms import prime_checker
from app.algorithms.base import Algorithm
from app.errors import AlgorithmNotFound

ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        prime_checker.ALGORITHM,
    )
}


def with_extras(base: dict[str, Algorithm], specs: Iterable[str]) -> dict[str, Algorithm]:
    """`base` plus the algorithms named by EXTRA_ALGORITHMS-style specs."""
    registry = dict(base)
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        algorithm = getattr(importlib.import_module(module_name), attribute or "ALGORITHM")
        if not isinstance(algorithm, Algorithm):
            raise TypeError(f"{spec} is not an Algorithm")
        registry[algorithm.name] = algorithm
    return registry


def find_algorithm(algorithms: Mapping[str, Algorithm], name: str) -> Algorithm:
    """The named algorithm, or AlgorithmNotFound listing what exists."""
    if name not in algorithms:
        raise AlgorithmNotFound(name, algorithms)
    return algorithms[name]
