"""Algorithms: each is one module that defines an `Algorithm`; `registry.py` lists them."""
from app.algorithms.base import Algorithm, AlgorithmInputError

__all__ = ["Algorithm", "AlgorithmInputError"]
