"""Speed of the integer golden model against the float numpy model, in one run.

Both run the same all-MiniLM-L6-v2 encoder on the same token sequence; the
ratio is what counts (absolute times depend on the machine).
"""
from __future__ import annotations

import time

import numpy as np


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(tokens: int = 128, repeats: int = 3) -> dict:
    from golden_model import minilm
    from golden_model.calibrate import default_model
    from golden_model.encoder import encode
    from golden_model.quant import quantize

    if not 1 <= tokens <= minilm.MAX_TOKENS:
        raise ValueError(f"--tokens must be in [1, {minilm.MAX_TOKENS}], got {tokens}")
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    m = minilm.load_minilm()
    model = default_model(8)
    rng = np.random.default_rng(0)
    ids = np.concatenate([[101], rng.integers(1000, 29000, tokens - 2), [102]])[:tokens]
    x_float = minilm.embed(m, ids)
    x_int = quantize(x_float, model.input_scale, model.numerics.act_bits)
    t_float = _best(lambda: minilm.float_encode(m, ids), repeats)
    t_int = _best(lambda: encode(model, x_int), repeats)
    print(f"bench model: {tokens} tokens, 6 layers, best of {repeats}")
    print(f"  float numpy model : {t_float * 1e3:8.1f} ms")
    print(f"  integer model     : {t_int * 1e3:8.1f} ms")
    print(f"  ratio int/float   : {t_int / t_float:8.2f}x  (target <= 3x)")
    return {"tokens": tokens, "float_s": t_float, "int_s": t_int, "ratio": t_int / t_float}
