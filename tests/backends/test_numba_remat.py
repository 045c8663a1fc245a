"""Rematerialisation in the spliced gradient (`remat.py`): which forward values the backward
sweep recomputes instead of reading back. Values are checked against NumPy by the corpus tests;
these check the schedule itself."""
import numpy as np

import adcompiler
from adcompiler.ad import differentiate
from adcompiler.backends.numba_cpu.program import spliced
from adcompiler.frontend import trace
from adcompiler.ir.rewrite import users

MASK = np.triu(np.ones((4, 4), dtype=bool), 1)


def attention_scores(q, k):
    s = np.where(MASK, -1e9, (q @ k.T) * 0.5)
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return np.sum(e / np.sum(e, axis=-1, keepdims=True) * np.arange(4.0))


B2 = np.linspace(-1, 1, 9).reshape(3, 3)


def product_read_twice(a, b):
    s = (a @ b) * 0.5           # read by a product in the forward sweep: written anyway
    return np.sum(s @ B2) + np.sum(s * s)


def _spliced(f, *args):
    primal = trace(f, *args)
    adj = differentiate(primal, [0, 1], seeded=(0,))
    fn = spliced(adj, "g")
    split = len(adj.fwd.body.ops) - 1          # its forward ops come first, without the return
    return fn.body.ops[:split], fn.body.ops[split:]


def _forward_values_read(fwd, bwd, name):
    """Results of the forward's `name` ops that the backward reads."""
    made = {op.result for op in fwd if op.name == name}
    return [v for v in users(bwd) if v in made]


def test_masked_scores_are_recomputed_from_the_product():
    """The backward reads q k^T (in memory anyway) and recomputes the scaled, masked scores in
    its own kernel: the forward kernel no longer writes them."""
    q, k = np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0, 1, 12).reshape(4, 3)
    fwd, bwd = _spliced(attention_scores, q, k)
    forward_where = [op.result for op in fwd if op.name == "where"]
    assert forward_where and not set(forward_where) & set(users(bwd))
    assert _forward_values_read(fwd, bwd, "matmul"), "the backward should read the product"


def test_a_value_a_forward_product_reads_is_not_recomputed_from_a_kept_product():
    a, b = np.linspace(-1, 1, 9).reshape(3, 3), np.linspace(0, 1, 9).reshape(3, 3)
    fwd, bwd = _spliced(product_read_twice, a, b)
    scaled = [op.result for op in fwd if op.name == "mul"]
    assert scaled and set(scaled) & set(users(bwd)), "s should be read back, not recomputed"


def norm_then_max(x, g):
    y = x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True)) * g + 1.0
    return np.sum(np.exp(y - np.max(y, axis=-1, keepdims=True)))


def test_a_compared_value_is_not_recomputed_by_a_chain_of_rounding_ops():
    """max's gradient compares y with max(y): y must be the forward's bit for bit, and LLVM may
    regroup a chain of float ops recomputed in another kernel (the `reassociate` option)."""
    x, g = np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0.5, 1, 3)
    fwd, bwd = _spliced(norm_then_max, x, g)
    made_in_fwd = {op.result for op in fwd}

    def source(v):      # through broadcasts, which copy values exactly
        return source(v.owner.operands[0]) if v.owner.name == "broadcast_to" else v
    compared = [source(v) for op in bwd if op.name == "eq" for v in op.operands]
    assert compared and all(v in made_in_fwd for v in compared)


def scaled_by_a_mean_then_max(y, w):
    v = w * y[::2].mean(axis=0, keepdims=True)
    return np.sum(v.max(axis=0))


def scaled_by_a_negated_mean_then_max(y, w):
    v = w * -y[::2].mean(axis=0, keepdims=True)      # (the negation passes the value on)
    return np.sum(v.max(axis=0))


def test_a_compared_value_is_not_recomputed_from_a_value_a_fused_chain_made():
    """v = w * (s / 3): one multiply to recompute, but the forward's kernel computed it fused
    with the division, in another order: no entry of the recomputed v equalled the max, and
    the gradient was 1/0 * 0 (a NaNError saying values overflowed)."""
    rng = np.random.default_rng(0)
    y, w = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    for f, sign in ((scaled_by_a_mean_then_max, 1), (scaled_by_a_negated_mean_then_max, -1)):
        fwd, bwd = _spliced(f, y, w)
        made_in_fwd = {op.result for op in fwd}
        compared = [v for op in bwd if op.name == "eq" for v in op.operands
                    if v.owner.name != "broadcast_to"]
        assert compared and all(v in made_in_fwd for v in compared)
        dw = adcompiler.grad(f, wrt=1, backend="numba")(y, w)
        m = sign * y[::2].mean(axis=0, keepdims=True)
        v = w * m
        np.testing.assert_allclose(dw, (v == v.max(axis=0)) * m, rtol=1e-12)     # by hand


def relu_mlp(w1, w2, x):
    h = x @ w1
    return np.sum(np.where(h > 0, h, 0.0) @ w2)


def test_a_product_is_not_kept_to_replace_a_smaller_residual():
    """The backward needs the mask h > 0 (1 byte an element): keeping the float64 product h
    (8 bytes an element) to recompute it would make the residuals bigger."""
    w1, w2 = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(0, 1, 8).reshape(4, 2)
    x = np.linspace(-1, 1, 15).reshape(5, 3)
    fwd, bwd = _spliced(relu_mlp, w1, w2, x)
    masks = [op.result for op in fwd if op.name == "gt"]
    assert masks and set(masks) & set(users(bwd)), "the mask should be read back"
    assert not _forward_values_read(fwd, bwd, "matmul"), "no product kept for the backward"
