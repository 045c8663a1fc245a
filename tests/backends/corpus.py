"""Small model functions, written in plain NumPy, that every backend must run and
differentiate like the NumPy reference. Each entry of CASES: name -> (function, arguments
maker, wrt), the arguments made for a float dtype."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "gpt"))
import model as gpt  # noqa: E402


def mlp(x, params, t):
    h = np.tanh(x @ params["w1"] + params["b1"])
    y = h @ params["w2"] + params["b2"]
    return np.mean((y - t) ** 2)


def rnn(xs, w, u, h0):
    """h[t+1] = tanh(h[t] W + x[t] U), written into a preallocated array."""
    T = xs.shape[0]
    h = np.zeros((T + 1, h0.shape[0]), dtype=xs.dtype)
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(h[t] @ w + xs[t] @ u)
    return np.sum(h[1:] * h[1:])


def norms(x, g, b, tgt):
    """softmax, layer norm and cross-entropy with a gather of the targets."""
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    y = xc / np.sqrt(np.mean(xc * xc, axis=-1, keepdims=True) + 1e-5) * g + b
    z = y - np.max(y, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    p = np.exp(logp)
    return -np.mean(logp[np.arange(x.shape[0]), tgt]) + np.sum(p * p) * 0.1


def gather(emb, idx, w):
    e = emb[idx]                     # (n, d) rows, repeated indices included
    return np.sum(np.tanh(e @ w) * e[:, :1]) + np.sum(emb[idx[0]] ** 2)


def halving(x, w):
    """A while loop whose trip count depends on the data."""
    y = x * w
    while np.sum(y * y) > 1.0:
        y = y * 0.5
    return np.sum(np.sin(y) * x)


def branches(x, w):
    h = x @ w
    if np.mean(h) > 0:
        h = np.maximum(h, 0.0)
    else:
        h = np.minimum(h, 0.0) * 2.0
    return np.sum(h * h) + np.max(np.abs(x))


def branch_returns_outer(x, w, c):
    """A branch whose result is a value made before it: the planner must not reuse that
    value's buffer after the branch (it did: the gradient read memory written since)."""
    y = x @ w
    if c > 0:
        out = y
    else:
        out = -y
    return np.sum(np.sin(out)) + np.sum(np.cos(x))


def transposed_gather(a, idx):
    """Rows gathered from a transposed 3-D array: the gradient is a scatter-add into a buffer
    the planner lays out transposed (its only reader is the transpose back), which the Numba
    runtime's scatter-add summed into a copy of and lost."""
    w = np.exp(a)
    e = np.transpose(w, (0, 2, 1))[idx]
    return np.sum(e * e)


def dead_code(x, w):
    """Values computed and never used: a row reduction, a column reduction inside a loop, an
    elementwise value (dropped before the kernels are made; a fused kernel had nowhere to put
    an unused reduction)."""
    unused = np.sum(x, axis=0)
    h = np.tanh(x @ w)
    for _ in range(2):
        also_unused = np.max(h, axis=1) * 2.0
        h = h * 0.5
    ignored = np.exp(x)
    return np.sum(h * h)


def split_products(x, w):
    """Slices of one product, each read by a product (attention's q, k, v): their gradients
    are products that write straight into their slices of the product's gradient, one of
    them through a transpose (backends/numba_cpu/placement.py)."""
    m = w.shape[1] // 3
    a = (x @ w).reshape(x.shape[0], 3, m).transpose(1, 0, 2)
    q, k, v = a[0], a[1], a[2]
    return np.sum((np.tanh(q @ k.T) @ v) ** 2)


def split_gap(x, w):
    """The same with a slice left unread: the gradient keeps zeros there, so it is still
    assembled by a kernel."""
    m = w.shape[1] // 3
    a = x @ w
    q, v = a[:, :m], a[:, 2 * m:]
    return np.sum(np.tanh(q @ v.T) ** 2)


def gpt_tiny(params, tokens, targets):
    return gpt.loss(params, tokens, targets, 2)


def _rng():
    return np.random.default_rng(11)


def mlp_args(dt):
    r = _rng()
    p = {"w1": r.normal(size=(5, 7)), "b1": r.normal(size=7), "w2": r.normal(size=(7, 3)),
         "b2": r.normal(size=3)}
    return (r.normal(size=(4, 5)).astype(dt), {k: v.astype(dt) for k, v in p.items()},
            r.normal(size=(4, 3)).astype(dt))


def rnn_args(dt):
    r = _rng()
    return tuple(a.astype(dt) for a in (r.normal(size=(5, 3)), r.normal(size=(4, 4)) * 0.5,
                                        r.normal(size=(3, 4)) * 0.5, r.normal(size=4)))


def norms_args(dt):
    r = _rng()
    return (r.normal(size=(6, 9)).astype(dt), (1 + 0.1 * r.normal(size=9)).astype(dt),
            (0.1 * r.normal(size=9)).astype(dt), r.integers(0, 9, size=6))


def gather_args(dt):
    r = _rng()
    return (r.normal(size=(7, 4)).astype(dt), np.array([1, 3, 3, 0, 6, 1]),
            r.normal(size=(4, 4)).astype(dt))


def halving_args(dt):
    r = _rng()
    return r.normal(size=8).astype(dt) * 2, r.normal(size=8).astype(dt)


def branches_args(dt):
    r = _rng()
    return r.normal(size=(3, 4)).astype(dt), r.normal(size=(4, 5)).astype(dt)


def branch_args(dt):
    r = _rng()
    return r.normal(size=(4, 5)).astype(dt), r.normal(size=(5, 6)).astype(dt), np.array(1.0, dt)


def transposed_gather_args(dt):
    return _rng().normal(size=(2, 4, 3)).astype(dt), np.array([0, 1, 1])


def dead_code_args(dt):
    r = _rng()
    return r.normal(size=(3, 4)).astype(dt), r.normal(size=(4, 5)).astype(dt)


def split_args(dt):
    r = _rng()
    return r.normal(size=(4, 5)).astype(dt), r.normal(size=(5, 6)).astype(dt)


def gpt_args(dt):
    p = gpt.init_params(V=11, T=6, d=8, n_head=2, n_layer=2, dff=16, seed=3, dtype=dt)
    r = _rng()
    p["layers"][0]["ln1_b"] = (0.1 * r.normal(size=8)).astype(dt)   # non-trivial LN params
    p["layers"][1]["attn_b"] = (0.1 * r.normal(size=24)).astype(dt)
    return p, r.integers(0, 11, size=(2, 6)), r.integers(0, 11, size=(2, 6))


CASES = {
    "mlp": (mlp, mlp_args, (0, 1)),
    "rnn": (rnn, rnn_args, (0, 1, 2, 3)),
    "norms": (norms, norms_args, (0, 1, 2)),
    "gather": (gather, gather_args, (0, 2)),
    "halving": (halving, halving_args, (0, 1)),
    "branches": (branches, branches_args, (0, 1)),
    "dead_code": (dead_code, dead_code_args, (0, 1)),
    "branch_returns_outer": (branch_returns_outer, branch_args, (0, 1)),
    "transposed_gather": (transposed_gather, transposed_gather_args, 0),
    "split_products": (split_products, split_args, (0, 1)),
    "split_gap": (split_gap, split_args, (0, 1)),
    "gpt_tiny": (gpt_tiny, gpt_args, 0),
}


def slices(x):
    """Slice reads and writes, a constant written into a slice."""
    y = x * 1.0
    y[:, 1:3] = 0.0
    y[0] = x[-1] * 2.0
    return np.sum(y * y) + np.sum(x[::2, ::-1] * y[1:, :])


def slices_args(dt):
    return (_rng().normal(size=(3, 4)).astype(dt),)


CASES["slices"] = (slices, slices_args, 0)
