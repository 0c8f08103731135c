"""The sieve of Eratosthenes, for the prime tables the number theory builds once at import."""

from math import isqrt


def primes_below(limit: int) -> tuple[int, ...]:
    """All primes below ``limit``."""
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for p in range(2, isqrt(limit - 1) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return tuple(p for p in range(limit) if sieve[p])
