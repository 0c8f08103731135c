"""Exact primality testing and prime factorisation for signed 64-bit integers.

Public API::

    is_prime(n)   -> bool
    factorize(n)  -> (factors, method)

Both accept a Python ``int`` in ``[INT64_MIN, INT64_MAX]`` and answer exactly:
nothing here is probabilistic.  Anything else raises ``TypeError`` (not an
int; ``bool`` included) or ``ValueError`` (outside int64), because the
correctness proof below only covers that range.

Contract of ``factorize``
-------------------------
* ``n < 2`` (0, 1 and every negative number): ``([], "trial_division")`` --
  numbers below 2 are not prime and no factorisation is given.
* ``n`` prime: ``([], method)`` -- a prime has no proper factorisation.
* ``n`` composite: every prime factor with multiplicity, ascending, so that
  the product of the list is ``n``: ``12 -> [2, 2, 3]``.

How a number is decided, and the method name reported
-----------------------------------------------------
The methods are applied cheapest first; ``method`` names the most powerful
one the answer needed (``trial_division`` < ``miller_rabin`` <
``pollard_brent`` < ``ecm``).

1. **Trial division** by the 168 primes below ``SMALL_PRIME_BOUND`` (1000);
   one gcd with their product says which of them divide n at all.
   What is left -- the *rough cofactor* -- has no prime factor below 1000, so
   if it is below ``TRIAL_DIVISION_PROVES_BELOW`` (1000**2) it is 1 or a prime.
   Every ``n < 10**6`` is therefore decided here (``17 -> ([],
   "trial_division")``), and so is any ``n`` whose rough cofactor is below
   ``10**6``.  Method: ``"trial_division"``.
2. **Deterministic Miller-Rabin** on a rough cofactor ``>= 10**6``.  The bases
   {2, 325, 9375, 28178, 450775, 9780504, 1795265022} (Jim Sinclair, 2011)
   admit no strong pseudoprime below 2**64.  The proof is computational: the
   Feitsma-Galway enumeration of all base-2 strong pseudoprimes below 2**64
   was checked against the other six bases (see
   https://miller-rabin.appspot.com/).  A base that is a multiple of ``n``
   proves nothing and is skipped; among the numbers that reach this test
   that happens only for the prime 299210837, a factor of 1795265022.  (The
   first twelve primes 2..37 would also do -- Sorenson & Webster, Math. Comp.
   86 (2017), prove them for n < 3.18e23 -- but cost 12 exponentiations
   instead of 7.)  If the rough cofactor is a prime, or a perfect power of a
   prime (squares, cubes and fifth powers are detected with exact integer
   roots before any search), the method is ``"miller_rabin"``.
3. **Splitting** a rough cofactor with at least two distinct prime factors,
   recursively, each part re-entering step 2.  From ``ECM_FROM`` (2**40) up,
   the elliptic-curve method (``ecm.py``) looks for a divisor first; below
   that, or in the very rare case that its curves are spent, Pollard-Brent
   rho finds one.  Method: ``"ecm"`` if ECM split any part, else
   ``"pollard_brent"``.

``is_prime`` never factorises: it is steps 1 and 2 alone.

Why these choices: below 2**63 the hardest inputs are semiprimes of two
~31-bit primes and squares of primes near 3e9.  Squares are answered at once
by ``math.isqrt``; rho would need ~sqrt(p), about 55,000, steps on them.
Semiprimes need rho ~1.2*sqrt(p) steps on average, tens of milliseconds in
CPython, where every arithmetic operation on these operands costs about the
same interpreter overhead whatever their width.  ECM needs a few curves of a
few thousand operations each: a few milliseconds typical, 20-25 ms in the
worst cases measured by ``bench/bench_algorithm.py`` (ecm.py says why).  For
the rho that remains, Brent's cycle search evaluates the polynomial twice per
comparison where Floyd's does three times, and multiplying the differences
together modulo n needs one gcd per ``_RHO_BATCH`` steps instead of one per
step.

The module keeps no mutable state (only constant tables built at import), so
it is safe to call from any number of threads.
"""

from math import gcd, isqrt, prod

from app.algorithms.ecm import find_divisor
from app.algorithms.sieve import primes_below

__all__ = [
    "ECM",
    "ECM_FROM",
    "INT64_MAX",
    "INT64_MIN",
    "MILLER_RABIN",
    "POLLARD_BRENT",
    "SMALL_PRIME_BOUND",
    "TRIAL_DIVISION",
    "TRIAL_DIVISION_PROVES_BELOW",
    "factorize",
    "is_prime",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

TRIAL_DIVISION = "trial_division"
MILLER_RABIN = "miller_rabin"
POLLARD_BRENT = "pollard_brent"
ECM = "ecm"
# What `factorize` reports is the last of these that the answer needed.
_METHODS_BY_POWER = (TRIAL_DIVISION, MILLER_RABIN, POLLARD_BRENT, ECM)

SMALL_PRIME_BOUND = 1000
# A number with no prime factor below B and smaller than B**2 is 1 or prime.
TRIAL_DIVISION_PROVES_BELOW = SMALL_PRIME_BOUND**2

# Deterministic for every n < 2**64 (see the module docstring for the proof).
_MILLER_RABIN_BASES = (2, 325, 9375, 28178, 450775, 9780504, 1795265022)

# Rough cofactors are < 2**63 and have no prime factor below 1000, so a perfect
# power r**k among them has r > 1000 and k <= 6.  Testing the prime exponents
# 2, 3 and 5 is enough: the root is factorised again, so a 4th or 6th power is
# found as a square of a square or of a cube.
_PERFECT_POWER_EXPONENTS = (2, 3, 5)

# Rho steps between two gcds.  A gcd costs about as much as a few steps, and a
# batch overshoots the factor by at most this many steps (about 0.1 ms, which
# the backtracking in _brent_rho repairs) -- noise next to the ~50,000 steps a
# hard semiprime needs.
_RHO_BATCH = 256

# Below this, rho's ~n**0.25 steps cost less than one elliptic curve.
ECM_FROM = 2**40


_SMALL_PRIMES = primes_below(SMALL_PRIME_BOUND)
# gcd(n, _SMALL_PRIMORIAL) is trial division by all 168 small primes at once,
# in C: it is 1 exactly when n has no prime factor below 1000.
_SMALL_PRIMORIAL = prod(_SMALL_PRIMES)


def _require_int64(n: int) -> None:
    """Reject what the correctness proof does not cover: non-ints and values outside int64."""
    if type(n) is not int:
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{n} is outside the signed 64-bit range")


def is_prime(n: int) -> bool:
    """True if ``n`` is prime; False for composites and for every ``n < 2``."""
    _require_int64(n)
    if n < 2:
        return False
    if gcd(n, _SMALL_PRIMORIAL) != 1:
        # n has a prime factor below 1000, so it is prime only if it is that factor.
        return n in _SMALL_PRIMES
    # No prime factor below 1000: trial division proves n prime when n < 1000**2.
    return n < TRIAL_DIVISION_PROVES_BELOW or _miller_rabin(n)


def factorize(n: int) -> tuple[list[int], str]:
    """Prime factorisation of n with multiplicity, ascending, and the name of the method that decided it.

    Primes and numbers below 2 give an empty list (see the module docstring
    for the full contract and for when each method name is reported).
    """
    _require_int64(n)
    if n < 2:
        return [], TRIAL_DIVISION
    factors, rough = _divide_out_small_primes(n)
    method = TRIAL_DIVISION
    if rough >= TRIAL_DIVISION_PROVES_BELOW:
        large, method = _factor_rough(rough)
        factors.extend(sorted(large))
    elif rough > 1:
        factors.append(rough)
    if factors == [n]:
        return [], method
    return factors, method


def _divide_out_small_primes(n: int) -> tuple[list[int], int]:
    """Split ``n`` into its prime factors below 1000 (ascending) and the rough cofactor.

    One gcd with the product of all small primes tells which of them divide
    n, so the loop stops at the largest one instead of trying all 168.
    """
    factors = []
    divisors = gcd(n, _SMALL_PRIMORIAL)  # the product of the small primes dividing n
    for p in _SMALL_PRIMES:
        if divisors == 1:
            break
        if divisors % p == 0:
            divisors //= p
            while n % p == 0:
                factors.append(p)
                n //= p
    return factors, n


def _factor_rough(n: int) -> tuple[list[int], str]:
    """Prime factors (unordered) of ``n > 1`` with no prime factor below 1000, and the method.

    The method is the most powerful one needed anywhere in the factorisation.
    """
    if _miller_rabin(n):
        return [n], MILLER_RABIN
    for k in _PERFECT_POWER_EXPONENTS:
        root = _exact_root(n, k)
        if root is not None:
            factors, method = _factor_rough(root)
            return factors * k, method
    divisor, method = _split(n)
    left, left_method = _factor_rough(divisor)
    right, right_method = _factor_rough(n // divisor)
    return left + right, max(method, left_method, right_method, key=_METHODS_BY_POWER.index)


def _split(n: int) -> tuple[int, str]:
    """A divisor d of ``n`` with 1 < d < n, and the method that found it.

    n must be composite, not a prime power, with no prime factor below 1000.
    """
    if n >= ECM_FROM:
        divisor = find_divisor(n)
        if divisor:
            return divisor, ECM
    return _pollard_brent(n), POLLARD_BRENT


def _miller_rabin(n: int) -> bool:
    """Deterministic strong-probable-prime test for odd ``n`` with 1 < n < 2**64.

    With the base set of the module docstring, "probable prime" is "prime".
    """
    n_minus_1 = n - 1
    s = (n_minus_1 & -n_minus_1).bit_length() - 1  # n - 1 = d * 2**s, d odd
    d = n_minus_1 >> s
    for base in _MILLER_RABIN_BASES:
        a = base % n
        if a == 0:
            continue
        x = pow(a, d, n)
        if x == 1 or x == n_minus_1:
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n_minus_1:
                break
        else:
            return False
    return True


def _exact_root(n: int, k: int) -> int | None:
    """The integer r with r**k == n, or None if n is not a perfect k-th power."""
    if k == 2:
        root = isqrt(n)
    else:
        # For n < 2**63 and k >= 3 the root is below 2**21 and the float
        # estimate is off by far less than 0.5, so rounding gives the root
        # whenever one exists; the exact check below decides.
        root = round(n ** (1.0 / k))
    return root if root**k == n else None


def _pollard_brent(n: int) -> int:
    """A divisor d of ``n`` with 1 < d < n; n must be composite and not a prime power.

    A run fails (returns n) when its walk repeats modulo every prime factor
    of n at the same step, which happens now and then for small n; the next
    c gives a different walk.
    """
    c = 1
    while True:
        divisor = _brent_rho(n, c)
        if divisor != n:
            return divisor
        c += 1


def _brent_rho(n: int, c: int) -> int:
    """One Pollard-Brent run on ``y -> y*y + c (mod n)``: a divisor of n above 1 (n means failure).

    Brent's cycle search: in round r the walk first advances r steps, then
    compares the next r values with ``x``, the value it had at the start of the
    round, so every distance is tried exactly once.  The comparisons
    accumulate in ``q`` and one gcd per batch tells whether some difference
    shared a factor with n.  If a batch jumps straight to gcd == n, it is
    replayed from ``saved`` one step at a time.
    """
    y = 2
    q = 1
    g = 1
    r = 1
    while g == 1:
        x = y
        for _ in range(r):
            y = (y * y + c) % n
        done = 0
        while done < r and g == 1:
            saved = y
            steps = min(_RHO_BATCH, r - done)
            # Four steps per pass: fewer loop iterations, and the four
            # differences are multiplied together before one reduction.
            for _ in range(steps >> 2):
                y1 = (y * y + c) % n
                y2 = (y1 * y1 + c) % n
                y3 = (y2 * y2 + c) % n
                y = (y3 * y3 + c) % n
                q = q * ((x - y1) * (x - y2)) * ((x - y3) * (x - y)) % n
            for _ in range(steps & 3):
                y = (y * y + c) % n
                q = q * (x - y) % n
            g = gcd(q, n)
            done += steps
        r *= 2
    if g == n:
        # Some step of the last batch is divisible by a prime factor of n
        # (q was coprime to n before it), so this replay ends inside it.
        g = 1
        while g == 1:
            saved = (saved * saved + c) % n
            g = gcd(x - saved, n)
    return g
