"""Lenstra's elliptic-curve method (ECM), sized for the hardest 63-bit composites, in pure Python.

``find_divisor(n)`` looks for a divisor d, 1 < d < n, of an odd composite n that is
not a prime power and has no prime factor below 1000, and returns 0 when its curves
are spent.  Whatever it returns is a gcd with n that was checked to be a proper
divisor, so a wrong factor is impossible; the curves only decide how fast one is found.

Why ECM: the worst int64 input is a semiprime of two ~31-bit primes.  Pollard-Brent
rho needs ~1.2*sqrt(p), about 55,000, steps of ~5 operations on it, and in CPython
every operation on these operands costs about the same interpreter overhead, so a
method's cost is its number of operations.  ECM finds p when the order of a curve's
group modulo p (a number near p) is smooth; at ~31 bits that is likely enough that a
few curves of a few thousand operations each usually succeed.  The number of curves
an input needs is geometric, so the slow tail is a few times the mean; measured on
300 semiprimes (bench/bench_algorithm.py), the median went from 14.4 to 3.1 ms and
the worst case from 50 to 23 ms against rho.

The choices, tuned on random 63-bit semiprimes (seeds other than the benchmark's):

* **Curves**: Montgomery curves ``B*y^2 = x^3 + A*x^2 + x`` with rational torsion
  Z/12 (Montgomery's parametrisation, from the multiples k*(-2, 4) of the generator
  of ``v^2 = u^3 - 12*u``).  Every group order is divisible by 12; they needed ~7 %
  fewer curves than Suyama's.  The curves are derived modulo n from fixed
  constants, so the same n always takes the same path: no random state.
* **Stage 1**: ``B1 = 125``.  The point is multiplied by ``lcm(1..B1)`` (a 175-bit
  number) with the Montgomery ladder on the bits of its odd part, then doubled for
  its power of two.  A ladder step is 11 multiplications; sums of two products
  are left unreduced where a square of them is cheaper to reduce once.
* **Stage 2**: ``B2 = 100 * B1``, baby-step giant-step with ``D = 210``: every prime
  B1 < q <= B2 is q = m*D +- b with b coprime to D, so it is caught by one factor
  ``x(m*D*Q) - x(b*Q)`` once all points are normalised with one modular inverse.
  A table built at import lists, per giant step m, the b that are needed.  The
  optimum is flat: B1/B2 of 125/6250, 165/16500, 200/10000 and 200/20000 were all
  within ~10 % of 125/12500; 85/8500 was ~30 % worse.
* **One gcd per stage**; a curve whose gcd is n (both factors at once, very rare for
  balanced semiprimes) is dropped.
* **Budget**: ``MAX_CURVES = 60``; a balanced semiprime needs ~6 on average, and 60
  all fail with probability ~e^-10.  The caller then falls back to rho.

The module keeps no mutable state (the tables are tuples built at import), so it is
safe to call from any number of threads.
"""

from math import gcd, prod
from typing import Iterator, NamedTuple

from app.algorithms.sieve import primes_below

__all__ = ["B1", "B2", "D", "MAX_CURVES", "find_divisor"]

B1 = 125
B2 = 100 * B1
D = 210
MAX_CURVES = 60


class _Plan(NamedTuple):
    """Everything about (B1, B2, D) that does not depend on n."""

    ladder_swaps: tuple[bool, ...]  # per bit of lcm(1..B1)'s odd part after the leading 1:
    # does it differ from the bit before (R and S trade places)?
    ladder_ends_swapped: bool  # the last bit is 1
    doublings: int  # the power of two in lcm(1..B1)
    odd_multiples: int  # how many of [1]Q, [3]Q, ..., [D/2]Q stage 2 computes
    half_pos: int  # index of [D/2]Q among them
    baby_pos: tuple[int, ...]  # index among them of each b < D/2 coprime to D
    first_giant: int  # smallest m needed
    last_giant: int  # largest m needed
    pairs: tuple[tuple[int, ...], ...]  # per giant m from first_giant: the babies b needed


def _make_plan(b1: int, b2: int, d: int) -> _Plan:
    """The stage-1 multiplier and the stage-2 table for bounds (b1, b2) and giant step d.

    d must be twice an odd number, so that [d]Q = 2*[d/2]Q.
    """
    if d % 4 != 2:
        raise ValueError("d must be twice an odd number")
    multiplier = 1
    for p in primes_below(b1 + 1):
        power = p
        while power * p <= b1:
            power *= p
        multiplier *= power
    doublings = (multiplier & -multiplier).bit_length() - 1
    odd_part = multiplier >> doublings
    bits = [c == "1" for c in bin(odd_part)[3:]]

    odd_multiples = list(range(1, d // 2 + 1, 2))
    babies = [b for b in odd_multiples if gcd(b, d) == 1]
    needed: dict[int, set[int]] = {}
    for q in primes_below(b2 + 1):
        if q > b1:
            m = (q + d // 2) // d
            needed.setdefault(m, set()).add(babies.index(abs(q - m * d)))
    first, last = min(needed), max(needed)
    return _Plan(
        ladder_swaps=tuple(bit != before for bit, before in zip(bits, [False, *bits])),
        ladder_ends_swapped=bits[-1],
        doublings=doublings,
        odd_multiples=len(odd_multiples),
        half_pos=odd_multiples.index(d // 2),
        baby_pos=tuple(odd_multiples.index(b) for b in babies),
        first_giant=first,
        last_giant=last,
        pairs=tuple(tuple(sorted(needed.get(m, ()))) for m in range(first, last + 1)),
    )


_PLAN = _make_plan(B1, B2, D)


def find_divisor(n: int) -> int:
    """A divisor of n strictly between 1 and n found by up to MAX_CURVES curves, or 0."""
    for x0, a24, found in _z12_curves(n, MAX_CURVES):
        if not found:
            found = _curve(n, x0, a24, _PLAN)
        if 1 < found < n:
            return found
    return 0


def _z12_curves(n: int, count: int) -> Iterator[tuple[int, int, int]]:
    """Up to ``count`` Montgomery curves with torsion Z/12 modulo n, as (x0, a24, 0).

    Curve k comes from the point k*(-2, 4) = (u, v) on ``v^2 = u^3 - 12u``: with
    a = alpha/beta = (v^2 - 4u^2)/(v^2 + 12u^2), the curve has
    a24 = (A + 2)/4 = -(a - 1)^3 (3a + 1) / (16 a^3) and the non-torsion point
    x0 = (3a^2 + 1)/(4a).  Where a needed inverse does not exist modulo n, the gcd
    that says so is yielded as (0, 0, gcd) instead: a divisor if it is below n.
    """
    u, v = 4, n - 4  # 2*(-2, 4)
    for k in range(count):
        if k:  # (u, v) += (-2, 4)
            g = gcd(u + 2, n)
            if g != 1:
                yield 0, 0, g
                return
            slope = (v - 4) * pow(u + 2, -1, n) % n
            u_next = (slope * slope - u + 2) % n
            v = (slope * (u - u_next) - v) % n
            u = u_next
        uu = u * u
        vv = v * v
        alpha = (vv - 4 * uu) % n
        beta = (vv + 12 * uu) % n
        den_a24 = 16 * alpha**3 * beta % n
        den_x0 = 4 * alpha * beta % n
        both = den_a24 * den_x0 % n
        g = gcd(both, n)
        if g != 1:
            yield 0, 0, g
            continue
        inverse = pow(both, -1, n)
        a24 = -((alpha - beta) ** 3) * (3 * alpha + beta) % n * den_x0 % n * inverse % n
        x0 = (3 * alpha * alpha + beta * beta) * den_a24 % n * inverse % n
        yield x0, a24, 0


def _curve(n: int, x0: int, a24: int, plan: _Plan) -> int:
    """Stages 1 and 2 on one curve: the gcd it ends with (1 or n mean failure)."""
    x, z = _stage1(n, x0, a24, plan)
    g = gcd(z, n)
    if g != 1:
        return g
    return _stage2(n, x * pow(z, -1, n) % n, a24, plan)


def _double(x: int, z: int, a24: int, n: int) -> tuple[int, int]:
    """2*(x : z) on the curve with (A + 2)/4 = a24."""
    s = x + z
    d = x - z
    aa = s * s
    bb = d * d
    e = aa - bb
    return aa * bb % n, e * (bb + a24 * e) % n


def _stage1(n: int, x0: int, a24: int, plan: _Plan) -> tuple[int, int]:
    """lcm(1..B1) * (x0 : 1): the Montgomery ladder on the odd part, then doublings.

    The ladder keeps R = k*P and S = (k+1)*P, so every addition has the difference
    P = (x0 : 1), which saves a multiplication.  A 0 bit is S = R + S, R = 2R; a 1 bit
    is the same step with R and S trading places, so they are swapped where the bit
    changes and the loop has one body (with _double inlined: the time goes here).
    """
    xr, zr = x0, 1
    xs, zs = _double(x0, 1, a24, n)
    for swap in plan.ladder_swaps:
        if swap:
            xr, zr, xs, zs = xs, zs, xr, zr
        s = xr + zr
        d = xr - zr
        da = (xs - zs) * s
        cb = (xs + zs) * d
        xs = (da + cb) ** 2 % n
        zs = (da - cb) ** 2 * x0 % n
        aa = s * s
        bb = d * d
        e = aa - bb
        xr = aa * bb % n
        zr = e * (bb + a24 * e) % n
    if plan.ladder_ends_swapped:
        xr, zr = xs, zs
    for _ in range(plan.doublings):
        xr, zr = _double(xr, zr, a24, n)
    return xr, zr


def _extend_chain(xs: list[int], zs: list[int], step: tuple[int, int], count: int, n: int) -> None:
    """Append ``count`` more points to the arithmetic progression ending in xs/zs.

    With the last two points at k*S and (k+1)*S and ``step`` = S, each new point is
    (k+1)*S + S, with the known difference k*S (a differential addition).
    """
    step_sum = step[0] + step[1]
    step_diff = step[0] - step[1]
    xp, zp, xc, zc = xs[-2], zs[-2], xs[-1], zs[-1]
    for _ in range(count):
        da = (xc - zc) * step_sum
        cb = (xc + zc) * step_diff
        xp, zp, xc, zc = xc, zc, (da + cb) ** 2 * zp % n, (da - cb) ** 2 * xp % n
        xs.append(xc)
        zs.append(zc)


def _stage2(n: int, x: int, a24: int, plan: _Plan) -> int:
    """gcd(n, product of x(m*D*Q) - x(b*Q) over the plan's pairs), Q = (x : 1).

    Babies are the odd multiples [1]Q, [3]Q, ..., a progression with step [2]Q;
    giants [D]Q, [2D]Q, ..., a progression with step [D]Q.  One batch inversion
    normalises all of them, so each pair then costs one subtraction and one
    multiplication.
    """
    double_q = _double(x, 1, a24, n)
    # [-1]Q has the x of [1]Q, so the progression [-1]Q, [1]Q extends to [3]Q, [5]Q, ...
    odd_x, odd_z = [x, x], [1, 1]
    _extend_chain(odd_x, odd_z, double_q, plan.odd_multiples - 1, n)
    del odd_x[0], odd_z[0]
    giant = _double(odd_x[plan.half_pos], odd_z[plan.half_pos], a24, n)  # [D]Q = 2*[D/2]Q
    giant_x, giant_z = [giant[0]], [giant[1]]
    twice = _double(giant[0], giant[1], a24, n)
    giant_x.append(twice[0])
    giant_z.append(twice[1])
    _extend_chain(giant_x, giant_z, giant, plan.last_giant - 2, n)

    first = plan.first_giant - 1
    px = [odd_x[i] for i in plan.baby_pos] + giant_x[first:]
    pz = [odd_z[i] for i in plan.baby_pos] + giant_z[first:]
    # Batch inversion: invert the product once, then peel off one point at a time.
    prefix = []
    product = 1
    for z in pz:
        prefix.append(product)
        product = product * z % n
    g = gcd(product, n)
    if g != 1:  # some point is the identity modulo a factor: that is a find too
        return g
    inverse = pow(product, -1, n)
    normal = [0] * len(pz)
    for i in range(len(pz) - 1, -1, -1):
        normal[i] = px[i] * inverse * prefix[i] % n
        inverse = inverse * pz[i] % n
    babies = normal[: len(plan.baby_pos)]
    product = 1
    for giant_x_normal, needed in zip(normal[len(plan.baby_pos) :], plan.pairs):
        product = prod([giant_x_normal - babies[i] for i in needed], start=product) % n
    return gcd(product, n)
