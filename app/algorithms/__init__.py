"""Algorithms: each is one module that defines an `Algorithm`; `registry.py` lists them."""
