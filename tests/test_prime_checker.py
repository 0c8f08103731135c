"""Cross-checks PrimeChecker (app.algorithms.prime_checker) against sympy, an independent implementation.

Every random input comes from a generator with a fixed seed, so a failure
names an n that reproduces.  Primes are drawn with ``sympy.nextprime`` from
our own seeded ``random.Random``, not with ``sympy.randprime``, whose RNG we
do not control.

Two ways of checking a factorisation against sympy are used:
* compare with ``sympy.factorint`` (slow on hard inputs, so used on samples);
* check that the list is ascending, multiplies to n and holds only primes
  according to ``sympy.isprime``.  Factorisation is unique, so this is the
  same check, and cheap enough for thousands of inputs.
"""

from __future__ import annotations

import random
from math import isqrt, prod

import pytest
import sympy

from app.algorithms.prime_checker import FLINT, TRIAL_DIVISION, TRIAL_DIVISION_BELOW, factorize, run
from app.algorithms.fields import INT64_MAX, INT64_MIN

SEED = 20240601

# The largest prime whose square is an int64: 3037000493.
LARGEST_SQUARE_ROOT_PRIME = sympy.prevprime(isqrt(INT64_MAX) + 1)


def sympy_factor_list(n: int) -> list[int]:
    """sympy's answer in the shape of our contract: [] for primes and for n < 2."""
    if n < 2 or sympy.isprime(n):
        return []
    return sorted(p for p, e in sympy.factorint(n).items() for _ in range(e))


def expected_method(n: int) -> str:
    """The method the module promises: trial division for small numbers, FLINT for the rest."""
    return TRIAL_DIVISION if n < TRIAL_DIVISION_BELOW else FLINT


def check(n: int, expected_factors: list[int] | None = None) -> str:
    """Assert PrimeChecker's whole result for n (factors against ``expected_factors`` if
    given, else by certificate) and the method name rule; return the method name."""
    result = run({"number": n})
    factors, method = result["factors"], result["algorithm"]
    prime = sympy.isprime(n)
    assert result["is_prime"] is prime, n
    assert result["number"] == n
    if n < 2 or prime:
        assert factors == [], n
    elif expected_factors is not None:
        assert factors == expected_factors, n
    else:
        assert factors == sorted(factors), n
        assert prod(factors) == n, n
        assert all(sympy.isprime(p) for p in factors), n
    assert all(type(p) is int for p in factors), n  # JSON-able Python ints, not fmpz
    assert method == expected_method(n), (n, method)
    return method


def check_against_factorint(n: int) -> None:
    check(n, sympy_factor_list(n))


def is_strong_probable_prime(n: int, base: int) -> bool:
    """The textbook Miller-Rabin round; here only to confirm what the test data claims."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    x = pow(base, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def is_carmichael(n: int) -> bool:
    """Korselt's criterion: composite, squarefree, and p - 1 divides n - 1 for every prime p | n."""
    f = sympy.factorint(n)
    return len(f) > 1 and all(e == 1 for e in f.values()) and all((n - 1) % (p - 1) == 0 for p in f)


def prime_in(rng: random.Random, lo: int, hi: int) -> int:
    """A prime in [lo, hi) chosen by rng."""
    while True:
        p = sympy.nextprime(rng.randrange(lo - 1, hi))
        if p < hi:
            return p


# --- the documented examples -------------------------------------------------


def test_documented_examples():
    assert factorize(12) == ([2, 2, 3], TRIAL_DIVISION)
    assert factorize(17) == ([], TRIAL_DIVISION)
    assert factorize(2**62) == ([2] * 62, FLINT)
    assert run({"number": 17}) == {"number": 17, "is_prime": True, "factors": [], "algorithm": TRIAL_DIVISION}


def test_method_names_on_either_side_of_the_trial_division_bound():
    largest_prime = sympy.prevprime(INT64_MAX)
    p, q = sympy.prevprime(LARGEST_SQUARE_ROOT_PRIME), LARGEST_SQUARE_ROOT_PRIME
    assert factorize(sympy.prevprime(TRIAL_DIVISION_BELOW)) == ([], TRIAL_DIVISION)
    assert factorize(TRIAL_DIVISION_BELOW - 1)[1] == TRIAL_DIVISION
    assert factorize(TRIAL_DIVISION_BELOW)[1] == FLINT
    assert factorize(largest_prime) == ([], FLINT)
    assert factorize(p * q) == ([p, q], FLINT)


# --- edge values --------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, -1, -2, -3, -17, -(2**62), INT64_MIN, INT64_MIN + 1])
def test_below_two_is_not_prime_and_has_no_factors(n):
    assert run({"number": n})["is_prime"] is False
    assert factorize(n) == ([], TRIAL_DIVISION)


@pytest.mark.parametrize(
    "n",
    [
        2, 3, 4, 5, 6, 997, 1009, 65521, 65536, 999983, 1000003,
        TRIAL_DIVISION_BELOW - 1, TRIAL_DIVISION_BELOW, TRIAL_DIVISION_BELOW + 1,
        997 * 997, 997 * 1009, 1009 * 1009, 1009 * 1013,
        2**31 - 1, 2**32 - 1, 2**32 + 1, 2**61 - 1, 2**62, 2**62 + 1,
        INT64_MAX, INT64_MAX - 1, sympy.prevprime(INT64_MAX), LARGEST_SQUARE_ROOT_PRIME**2,
    ],
)
def test_edge_values(n):
    check_against_factorint(n)


def test_every_small_number():
    for n in range(-50, 3000):
        check_against_factorint(n)


def test_around_the_trial_division_bound():
    for n in range(TRIAL_DIVISION_BELOW - 1000, TRIAL_DIVISION_BELOW + 1000):
        check_against_factorint(n)


# --- random inputs ------------------------------------------------------------


def test_random_int64_uniform():
    rng = random.Random(f"{SEED}:uniform")
    values = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(2000)]
    for n in values[:150]:
        check_against_factorint(n)
    for n in values[150:]:
        check(n)


def test_random_int64_log_uniform():
    rng = random.Random(f"{SEED}:log-uniform")
    values = []
    for _ in range(2000):
        bits = rng.randint(1, 63)
        values.append(rng.randrange(2 ** (bits - 1), 2**bits))
    for n in values[:300]:
        check_against_factorint(n)
    for n in values[300:]:
        check(n)


# --- numbers that fool weaker primality tests ---------------------------------

CARMICHAEL_NUMBERS = [
    561, 1105, 1729, 2465, 2821, 6601, 8911,
    3215031751, 2152302898747, 3474749660383, 3825123056546413051,
]

# Each is the smallest strong pseudoprime to all the prime bases listed with it
# (the psi_k of Jaeschke and of Jiang & Deng).
STRONG_PSEUDOPRIMES = {
    2047: (2,),
    1373653: (2, 3),
    25326001: (2, 3, 5),
    3215031751: (2, 3, 5, 7),
    2152302898747: (2, 3, 5, 7, 11),
    3474749660383: (2, 3, 5, 7, 11, 13),
    341550071728321: (2, 3, 5, 7, 11, 13, 17, 19),
    3825123056546413051: (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31),
}


def chernick_carmichael_numbers(count: int) -> list[tuple[int, list[int]]]:
    """The largest int64 Carmichael numbers of Chernick's form, with their factors.

    (6k+1)(12k+1)(18k+1) is a Carmichael number whenever all three factors are prime.
    """
    found = []
    k = int((INT64_MAX / 1296) ** (1 / 3))
    while len(found) < count:
        factors = [6 * k + 1, 12 * k + 1, 18 * k + 1]
        if prod(factors) <= INT64_MAX and all(sympy.isprime(p) for p in factors):
            found.append((prod(factors), factors))
        k -= 1
    return found


def test_pseudoprime_data_is_what_it_claims():
    for n in CARMICHAEL_NUMBERS + [n for n, _ in chernick_carmichael_numbers(5)]:
        assert is_carmichael(n), n
    for n, bases in STRONG_PSEUDOPRIMES.items():
        assert not sympy.isprime(n) and all(is_strong_probable_prime(n, a) for a in bases), n


@pytest.mark.parametrize("n", CARMICHAEL_NUMBERS + sorted(STRONG_PSEUDOPRIMES))
def test_carmichael_numbers_and_strong_pseudoprimes(n):
    check_against_factorint(n)


def test_large_chernick_carmichael_numbers():
    for n, factors in chernick_carmichael_numbers(5):
        check(n, factors)


def test_primes_that_divide_a_miller_rabin_base():
    # Deterministic Miller-Rabin implementations stumble on these (a base that is a
    # multiple of n proves nothing); FLINT's test is one of them.
    for base in (325, 9375, 28178, 450775, 9780504, 1795265022):
        for p in sympy.primefactors(base):
            check(p)


# --- the hard cases for rho -----------------------------------------------------


def test_squares_of_large_primes():
    rng = random.Random(f"{SEED}:squares")
    roots = [LARGEST_SQUARE_ROOT_PRIME] + [prime_in(rng, 2**31, isqrt(INT64_MAX) + 1) for _ in range(30)]
    for p in roots:
        check(p * p, [p, p])


def test_higher_powers_of_primes():
    rng = random.Random(f"{SEED}:powers")
    for k in (3, 4, 5, 6, 7):
        top = int(INT64_MAX ** (1 / k))
        roots = [sympy.prevprime(top + 1)] + [prime_in(rng, 2, top) for _ in range(10)]
        for p in roots:
            check(p**k, [p] * k)


def test_prime_powers_times_other_primes():
    rng = random.Random(f"{SEED}:mixed")
    for _ in range(30):
        p = prime_in(rng, 1000, 2**20)
        q = prime_in(rng, 1000, INT64_MAX // (p * p))
        check(p * p * q, sorted([p, p, q]))


def test_semiprimes_of_two_31_bit_primes():
    rng = random.Random(f"{SEED}:semiprimes")
    pairs = [(LARGEST_SQUARE_ROOT_PRIME, sympy.prevprime(LARGEST_SQUARE_ROOT_PRIME))]
    while len(pairs) < 30:
        p = prime_in(rng, isqrt(2**61), isqrt(2**63))
        q = prime_in(rng, -(-(2**62) // p), INT64_MAX // p + 1)
        if p != q and 2**62 <= p * q <= INT64_MAX:
            pairs.append((p, q))
    for p, q in pairs:
        check(p * q, sorted([p, q]))


def composites_of_mixed_shapes(rng: random.Random, count: int) -> list[int]:
    """Composites with no factor below 1000, of the shapes factorisers split in steps: p*q, p*q*r
    and p*p*q with factors of 10-32 bits."""
    def prime_of(bits: int) -> int:
        return prime_in(rng, max(2 ** (bits - 1), 1000), 2**bits)

    found: list[int] = []
    while len(found) < count:
        shape = rng.choice(("pq", "pqr", "ppq"))
        if shape == "pq":
            a = rng.randint(10, 32)
            factors = [prime_of(a), prime_of(rng.randint(10, min(32, 62 - a)))]
        elif shape == "pqr":
            a, b = rng.randint(10, 21), rng.randint(10, 21)
            factors = [prime_of(a), prime_of(b), prime_of(rng.randint(10, 62 - a - b))]
        else:
            p = prime_of(rng.randint(10, 26))
            factors = [p, p, prime_of(rng.randint(10, 62 - 2 * p.bit_length()))]
        n = prod(factors)
        if len(set(factors)) > 1 and n <= INT64_MAX:
            found.append(n)
    return found


def test_composites_of_mixed_shapes():
    for n in composites_of_mixed_shapes(random.Random(f"{SEED}:mixed-shapes"), 600):
        check(n)


def test_products_of_two_primes_from_1000_to_1400():
    # Small semiprimes with no small factor: rho-style factorisers fail and retry on
    # them more often than on large ones.
    primes = list(sympy.primerange(1000, 1400))
    for i, p in enumerate(primes):
        for q in primes[i:]:
            check(p * q, [p, q])


def test_small_prime_times_large_prime():
    rng = random.Random(f"{SEED}:small-times-large")
    small = [2, 3, 5, 7, 997, 1009, 65521] + [prime_in(rng, 2, 2**20) for _ in range(20)]
    for s in small:
        q = sympy.prevprime(INT64_MAX // s + 1)
        check(s * q, sorted([s, q]))


# --- input validation -------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, 7.0, "7", None])
def test_rejects_non_ints(bad):
    with pytest.raises(TypeError):
        factorize(bad)


@pytest.mark.parametrize("bad", [INT64_MAX + 1, INT64_MIN - 1, 2**64])
def test_rejects_values_outside_int64(bad):
    with pytest.raises(ValueError):
        factorize(bad)
