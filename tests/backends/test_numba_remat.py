"""Rematerialisation in the spliced gradient (`remat.py`): which forward values the backward
sweep recomputes instead of reading back. Values are checked against NumPy by the corpus tests;
these check the schedule itself."""
import numpy as np

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


def _read_in(ops, name):
    return [v for v, readers in users(ops).items() if getattr(v.owner, "name", "") == name]


def test_masked_scores_are_recomputed_from_the_product():
    """The backward reads q k^T (in memory anyway) and recomputes the scaled, masked scores in
    its own kernel: the forward kernel no longer writes them."""
    q, k = np.linspace(-1, 1, 12).reshape(4, 3), np.linspace(0, 1, 12).reshape(4, 3)
    fwd, bwd = _spliced(attention_scores, q, k)
    forward_where = [op.result for op in fwd if op.name == "where"]
    assert forward_where and not set(forward_where) & set(users(bwd))
    assert _read_in(bwd, "matmul"), "the backward should read the product itself"


def test_a_value_a_forward_product_reads_is_not_recomputed_from_a_kept_product():
    a, b = np.linspace(-1, 1, 9).reshape(3, 3), np.linspace(0, 1, 9).reshape(3, 3)
    fwd, bwd = _spliced(product_read_twice, a, b)
    scaled = [op.result for op in fwd if op.name == "mul"]
    assert scaled and set(scaled) & set(users(bwd)), "s should be read back, not recomputed"
