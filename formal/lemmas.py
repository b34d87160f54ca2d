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
- :func:`divider_composition`: exact restoring steps (SBY) compose into
  quot*den + rem == num, floor division (the divider proof's algebra).
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


def divider_composition(bits_per_cycle: int, *, weight=lambda r, j: 2 ** (r - 1 - j)) -> SbyResult:
    """The algebra of the divider proof (formal.divider), over unbounded integers.

    SBY proves, for every busy cycle, each restoring step j exactly:
    2*rem_j + bit_j == rem_{j+1} + take_j*den with 0 <= rem_{j+1} < den
    (D7/D8, at widths where nothing wraps), that the bits consumed are the
    dividend's from the top (D5), that the quotient register collects the
    takes in order (D6) and that rem starts at 0.  By induction over the
    cycles, with prefix' = 2^r*prefix + sum_j bit_j*w_j and
    Q' = 2^r*Q + sum_j take_j*w_j (w_j = 2^(r-1-j), ``weight``), the claims
    below give Q*den + rem == prefix after every cycle, so at done (prefix ==
    num) quot*den + rem == num; with 0 <= rem < den that is floor division,
    and quot <= num, so the quotient fits num_bits.  Any other ``weight``
    (the order the bits are combined) must FAIL (the negative test)."""
    z3 = _z3()
    r = bits_per_cycle
    q, pre, den, num, rem = z3.Ints("Q prefix den num rem")
    bs = z3.Ints(" ".join(f"bit{j}" for j in range(r)))
    ts = z3.Ints(" ".join(f"take{j}" for j in range(r)))
    rs = z3.Ints(" ".join(f"rem{j}" for j in range(r + 1)))
    step_hyps = [den >= 1, q >= 0, rs[0] >= 0, rs[0] < den, q * den + rs[0] == pre]
    for j in range(r):
        step_hyps += [z3.Or(bs[j] == 0, bs[j] == 1), z3.Or(ts[j] == 0, ts[j] == 1),
                      2 * rs[j] + bs[j] == rs[j + 1] + ts[j] * den, rs[j + 1] >= 0, rs[j + 1] < den]
    q2 = 2 ** r * q + sum(ts[j] * 2 ** (r - 1 - j) for j in range(r))
    pre2 = 2 ** r * pre + sum(bs[j] * weight(r, j) for j in range(r))
    claims = [
        ("Q*den + rem == prefix at start", [q == 0, rem == 0, pre == 0], q * den + rem == pre),
        ("Q*den + rem == prefix is kept by one cycle", step_hyps, q2 * den + rs[r] == pre2),
        ("q*den + rem == num, 0 <= rem < den is floor division",
         [den >= 1, num >= 0, q >= 0, rem >= 0, rem < den, q * den + rem == num],
         z3.And(q == num / den, rem == num % den)),
        # q <= num: the quotient fits num_bits as the dividend does (a symbolic
        # 2^num_bits here made z3 time out after other lemmas had run)
        ("the quotient is at most the dividend (fits num_bits)",
         [den >= 1, num >= 0, q >= 0, rem >= 0, q * den + rem == num],
         q <= num),
    ]
    return _check(f"lemma_divider_composition_r{r}",
                  f"{r} exact restoring step(s) a cycle keep quot*den + rem == consumed dividend; "
                  f"q*d + r == n, 0 <= r < d is floor division", claims)


def exp_poly_width(spec, bits: int | None = None) -> SbyResult:
    """The exp reference (formal.equiv.exp_ref_sv) computes exactly: for every
    d in [-2^(diff_bits-1), 0], with dc = max(d, 30*x0), q = floor(dc/x0) and
    r = dc - x0*q: q in [0, 30], r in (x0, 0], and r, r + b, (r + b)*r and
    z = (r + b)*r + c fit ``bits`` signed bits (default exp_ref_width(spec)),
    z in [z_min, z_max] (so e = z >> q fits exp_bits)."""
    from golden_model.softmax import N_CLAMP
    z3 = _z3()
    from .equiv import exp_ref_width
    w = bits if bits is not None else exp_ref_width(spec)
    lo, hi = int_range(w)
    d, q, r = z3.Ints("d q r")
    dc = z3.If(d < N_CLAMP * spec.x0, N_CLAMP * spec.x0, d)
    # z3's Int division is Euclidean; with -dc >= 0 and -x0 > 0 it is the floor
    hyps = [d >= -2 ** (spec.diff_bits - 1), d <= 0, q == (-dc) / (-spec.x0), r == dc - spec.x0 * q]
    z = (r + spec.b) * r + spec.c
    claims = [
        ("q in [0, 30], r in (x0, 0]", hyps, z3.And(q >= 0, q <= N_CLAMP, r > spec.x0, r <= 0)),
        (f"r, r + b, (r + b)*r, z fit {w} bits", hyps,
         z3.And(*[_in(z3, v, lo, hi) for v in (dc, r, r + spec.b, (r + spec.b) * r, z)])),
        ("z in [z_min, z_max]", hyps, _in(z3, z, spec.z_min, spec.z_max)),
    ]
    return _check(f"lemma_exp_poly_width_i{spec.in_bits}f{spec.frac_bits}_w{w}",
                  f"exp reference arithmetic fits {w} signed bits (no wrap), z in [z_min, z_max]",
                  claims)
