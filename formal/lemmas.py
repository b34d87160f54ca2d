"""The nonlinear algebra the SBY proofs rely on, proven by z3 over unbounded integers.

SBY proves bit-level equivalence and linear invariants; the facts below are
what turns those into statements about the golden model's formulas:

- :func:`split_product`: a DSP-style split product equals the product, and its
  partial products fit the DUT's registers and the reference's int64.  With it,
  "split DUT == split reference" (SBY) means "split DUT == requantize".
- :func:`requant_width`: acc*M + 2^(s-1) fits the RTL's product+rounding width
  and int64 (so the modular bit-vector sums are the integer sums).
- :func:`round_half_up`: for every s in [1, shift_max], (P + 2^(s-1)) >> s is
  P / 2^s rounded to nearest with ties up (error in [-1/2, 1/2)), for every
  integer P: the rounding the golden model states.
- :func:`mac_bound`: products lie in [pmin, pmax]; the invariant
  k*pmin <= acc - bias <= k*pmax is inductive for symbolic k; for every
  K <= k_max the sum fits acc_bits_for(k_max) bits, and one bit fewer does not
  (the width is tight).

Each returns an :class:`formal.sby.SbyResult` (mode "z3") so it sits in the
same result table as the SBY jobs.  A lemma is proven by showing its negation
unsatisfiable; a satisfiable negation is a FAIL with the model as detail.
"""
from __future__ import annotations

import time

from golden_model.widths import int_range

from .sby import SbyResult


def _z3():
    try:
        import z3
    except ImportError as e:  # pragma: no cover - the toolchain pins z3-solver
        from rtl_gen.toolchain import ToolMissing
        raise ToolMissing("z3 Python bindings missing: pip install z3-solver") from e
    return z3


def _check(name: str, description: str, claims, timeout_s: float = 60.0) -> SbyResult:
    """Prove each (label, hypotheses, conclusion) by refuting hypotheses & !conclusion."""
    z3 = _z3()
    start = time.monotonic()
    for label, hyps, concl in claims:
        s = z3.Solver()
        s.set("timeout", int(timeout_s * 1000))
        s.add(*hyps)
        s.add(z3.Not(concl))
        r = s.check()
        if r == z3.sat:
            return SbyResult(name, "FAIL", time.monotonic() - start, mode="z3", engine="z3",
                             detail=f"{label}: counterexample {s.model()}", description=description,
                             failed=[label], properties=[label])
        if r != z3.unsat:
            return SbyResult(name, "UNKNOWN", time.monotonic() - start, mode="z3", engine="z3",
                             detail=f"{label}: z3 returned {r} ({s.reason_unknown()})",
                             description=description)
    return SbyResult(name, "PASS", time.monotonic() - start, mode="z3", engine="z3",
                     detail=f"{len(claims)} claim(s) proven over unbounded integers",
                     description=description)


def _in(z3, x, lo, hi):
    return z3.And(x >= lo, x <= hi)


def split_product(acc_bits: int, mult_bits: int, split: int, *, offset: int | None = None) -> SbyResult:
    """acc*M == (acc*M_hi)*2^split + acc*M_lo, with every piece inside its register.

    ``offset`` (default ``split``) is the shift the recombination uses; any other
    value must FAIL (the negative test).
    """
    z3 = _z3()
    off = split if offset is None else offset
    a, mh, ml = z3.Ints("acc m_hi m_lo")
    alo, ahi = int_range(acc_bits)
    m = mh * 2 ** split + ml
    hyps = [_in(z3, a, alo, ahi), _in(z3, mh, 0, 2 ** (mult_bits - split) - 1),
            _in(z3, ml, 0, 2 ** split - 1)]
    hi_lo, hi_hi = int_range(acc_bits + mult_bits - split + 1)
    lo_lo, lo_hi = int_range(acc_bits + split + 1)
    pw_lo, pw_hi = int_range(acc_bits + mult_bits)
    claims = [
        ("split identity", hyps, a * mh * 2 ** off + a * ml == a * m),
        ("p_hi fits its register", hyps, _in(z3, a * mh, hi_lo, hi_hi)),
        ("p_lo fits its register", hyps, _in(z3, a * ml, lo_lo, lo_hi)),
        ("recombined product fits acc+mult bits", hyps, _in(z3, a * mh * 2 ** off + a * ml, pw_lo, pw_hi)),
        ("every term fits int64", hyps, z3.And(_in(z3, a * mh * 2 ** off, -2 ** 63, 2 ** 63 - 1),
                                               _in(z3, a * m, -2 ** 62, 2 ** 62))),
    ]
    return _check(f"lemma_split_product_a{acc_bits}_m{mult_bits}_at{split}" + (f"_off{off}" if off != split else ""),
                  f"acc*M == (acc*M[hi])<<{off} + acc*M[lo] (split at bit {split}), no register overflows",
                  claims)


def requant_width(acc_bits: int, mult_bits: int, shift_max: int, sum_bits: int | None = None) -> SbyResult:
    """acc*M + 2^(s-1) fits ``sum_bits`` (the RTL's product + rounding width,
    default max(acc+mult, shift_max) + 1 as the kit's DUT) and int64."""
    z3 = _z3()
    bits = sum_bits if sum_bits is not None else max(acc_bits + mult_bits, shift_max) + 1
    a, m, s = z3.Ints("acc M s_pow")
    alo, ahi = int_range(acc_bits)
    hyps = [_in(z3, a, alo, ahi), _in(z3, m, 0, 2 ** mult_bits - 1), _in(z3, s, 0, 2 ** max(0, shift_max - 1))]
    slo, shi = int_range(bits)
    claims = [(f"product + rounding fits {bits} bits", hyps, _in(z3, a * m + s, slo, shi)),
              ("product + rounding fits int64", hyps, _in(z3, a * m + s, -2 ** 63, 2 ** 63 - 1))]
    return _check(f"lemma_requant_width_a{acc_bits}_m{mult_bits}_sum{bits}",
                  "requantizer sums cannot wrap (modular == integer arithmetic)", claims)


def round_half_up(shift_max: int, *, constant=lambda s: 2 ** (s - 1)) -> SbyResult:
    """For s in [1, shift_max] and every integer P: q = (P + c(s)) >> s satisfies
    -2^s/2 <= P - q*2^s < 2^s/2 (round to nearest, ties up).

    ``constant`` is the rounding constant; 2^(s-1) - 1 must FAIL (ties go down).
    """
    z3 = _z3()
    p = z3.Int("P")
    claims = []
    for s in range(1, shift_max + 1):
        d = 2 ** s
        q = (p + constant(s)) / d          # z3 Int division by a positive constant is floor
        e = p - q * d
        claims.append((f"s={s}", [], z3.And(2 * e >= -d, 2 * e < d)))
    return _check(f"lemma_round_half_up_s{shift_max}",
                  "(P + 2^(s-1)) >>> s rounds P/2^s to nearest, ties up, for all P", claims)


def mac_bound(k_max: int, act_bits: int = 8, weight_bits: int = 8, bias_bits: int = 32,
              acc_bits: int | None = None) -> SbyResult:
    """The MAC invariant is inductive for symbolic k and acc_bits_for(k_max) suffices,
    while one bit fewer does not (tightness is a claim too: it is refuted if
    a narrower width would do).  ``acc_bits`` overrides the width under test.
    """
    from golden_model.matmul import acc_bits_for
    z3 = _z3()
    bits = acc_bits if acc_bits is not None else acc_bits_for(k_max, act_bits, weight_bits, bias_bits)
    alo_, ahi_ = int_range(act_bits)
    wlo, whi = int_range(weight_bits)
    pmin = min(alo_ * wlo, alo_ * whi, ahi_ * wlo, ahi_ * whi)
    pmax = max(alo_ * wlo, alo_ * whi, ahi_ * wlo, ahi_ * whi)
    a, w, k, d, b = z3.Ints("a w k d bias")
    blo, bhi = int_range(bias_bits)
    lo, hi = int_range(bits)
    nlo, nhi = int_range(bits - 1)
    inv = z3.And(k * pmin <= d, d <= k * pmax)
    prod_hyps = [_in(z3, a, alo_, ahi_), _in(z3, w, wlo, whi)]
    claims = [
        ("products lie in [pmin, pmax]", prod_hyps, _in(z3, a * w, pmin, pmax)),
        ("invariant holds at k = 0", [k == 0, d == 0], inv),
        ("invariant is inductive", [k >= 0, inv, _in(z3, a * w, pmin, pmax)],
         z3.substitute(z3.substitute(inv, (k, k + 1)), (d, d + a * w))),
        (f"K <= {k_max} terms + bias fit {bits} bits",
         [_in(z3, k, 0, k_max), inv, _in(z3, b, blo, bhi)], _in(z3, b + d, lo, hi)),
        (f"{bits - 1} bits are not enough (width is tight)", [],
         z3.Not(z3.And(_in(z3, k_max * pmax + bhi, nlo, nhi), _in(z3, k_max * pmin + blo, nlo, nhi)))),
    ]
    return _check(f"lemma_mac_bound_a{act_bits}w{weight_bits}b{bias_bits}_k{k_max}_acc{bits}",
                  f"|acc - bias| <= k*{pmax} inductive; K <= {k_max} fits acc {bits} bits, tight",
                  claims)


def divider_recurrence(bits_per_cycle: int, *, weight=lambda r, j: 2 ** (r - 1 - j)) -> SbyResult:
    """The divider proof's algebra (formal.divider): the ghost ``g_qd`` updated
    linearly, qd' = 2^r*qd + sum_j b_j * den * 2^(r-1-j), stays equal to
    Q * den while the quotient register takes Q' = 2^r*Q + sum_j b_j * 2^(r-1-j);
    and q*den + rem == num with 0 <= rem < den makes q, rem the floor quotient
    and remainder.  ``weight`` is the ghost's shift of den for bit j; any other
    than the quotient's must FAIL (the negative test)."""
    z3 = _z3()
    r = bits_per_cycle
    q, qd, den, num, rem = z3.Ints("Q qd den num rem")
    bs = z3.Ints(" ".join(f"b{j}" for j in range(r)))
    bit_hyps = [z3.Or(b == 0, b == 1) for b in bs]
    q2 = 2 ** r * q + sum(b * 2 ** (r - 1 - j) for j, b in enumerate(bs))
    qd2 = 2 ** r * qd + sum(b * den * weight(r, j) for j, b in enumerate(bs))
    claims = [
        ("qd == Q*den at start", [q == 0, qd == 0], qd == q * den),
        ("qd == Q*den is kept by one step", [den >= 0, q >= 0, qd == q * den, *bit_hyps], qd2 == q2 * den),
        ("q*den + rem == num, 0 <= rem < den is floor division",
         [den > 0, num >= 0, q >= 0, rem >= 0, rem < den, q * den + rem == num],
         z3.And(q == num / den, rem == num % den)),
    ]
    return _check(f"lemma_divider_recurrence_r{r}",
                  f"divider ghost qd' = 2^{r} qd + sum b_j den 2^({r}-1-j) keeps qd == quot*den; "
                  f"q*d + r == n, r < d is floor division", claims)
