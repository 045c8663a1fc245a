"""Representative model functions for the golden IR tests (tests/frontend/golden/*.ir).

Line numbers in this file appear in the goldens: regenerate them (ADC_UPDATE_GOLDEN=1) after
editing it."""
import math

import numpy as np


def mlp(x, params):
    h = x
    for layer in params["hidden"]:
        h = np.tanh(h @ layer["w"] + layer["b"])
    return h @ params["out_w"] + params["out_b"]


def scan(xs, h0, w, n):
    """An RNN-like scan whose trip count is a run-time value."""
    h = h0
    total = 0.0
    for t in range(n):
        h = np.tanh(h @ w + xs[t])
        total = total + np.sum(h * h)
    return h, total / n


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def gpt_block(x, p, n_head):
    """A pre-norm transformer block: causal multi-head attention and a GELU MLP."""
    B, T, C = x.shape
    hd = C // n_head
    h = layer_norm(x, p["ln1_w"], p["ln1_b"])
    qkv = h @ p["attn_w"] + p["attn_b"]
    q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
    q = q.reshape(B, T, n_head, hd).transpose(0, 2, 1, 3)
    k = k.reshape(B, T, n_head, hd).transpose(0, 2, 1, 3)
    v = v.reshape(B, T, n_head, hd).transpose(0, 2, 1, 3)
    att = (q @ k.swapaxes(-1, -2)) / math.sqrt(hd)
    causal = np.tril(np.ones((T, T), dtype=bool))
    att = np.where(causal, att, -1e9)
    y = softmax(att) @ v
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)
    x = x + y @ p["proj_w"] + p["proj_b"]
    h = gelu(layer_norm(x, p["ln2_w"], p["ln2_b"]) @ p["fc_w"] + p["fc_b"])
    return x + h @ p["mlp_w"] + p["mlp_b"]


def cross_entropy(logits, targets):
    n = logits.shape[0]
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(n), targets])


def branchy_layers(x, layers):
    """A loop over a parameter list with a data-dependent if."""
    for layer in layers:
        x = x @ layer["w"]
        if np.mean(x) > 0:
            x = np.tanh(x)
        else:
            x = 0.1 * x
    return np.sum(x)


def _rng():
    return np.random.default_rng(7)


def mlp_args():
    r = _rng()
    params = {"hidden": [{"w": r.normal(size=(4, 8)), "b": r.normal(size=8)},
                         {"w": r.normal(size=(8, 8)), "b": r.normal(size=8)}],
              "out_w": r.normal(size=(8, 2)), "out_b": r.normal(size=2)}
    return r.normal(size=(3, 4)), params


def scan_args():
    r = _rng()
    return r.normal(size=(6, 4)), r.normal(size=4), r.normal(size=(4, 4)) * 0.5, np.int64(5)


def gpt_block_args(dtype=np.float32):
    r = _rng()
    C = 8

    def m(*shape, scale=0.3):
        return (r.normal(size=shape) * scale).astype(dtype)
    p = {"ln1_w": 1 + m(C, scale=0.1), "ln1_b": m(C, scale=0.1),
         "attn_w": m(C, 3 * C), "attn_b": m(3 * C, scale=0.1),
         "proj_w": m(C, C), "proj_b": m(C, scale=0.1),
         "ln2_w": 1 + m(C, scale=0.1), "ln2_b": m(C, scale=0.1),
         "fc_w": m(C, 4 * C), "fc_b": m(4 * C, scale=0.1),
         "mlp_w": m(4 * C, C), "mlp_b": m(C, scale=0.1)}
    return m(2, 5, C, scale=1.0), p, 2


def cross_entropy_args():
    r = _rng()
    return r.normal(size=(6, 5)), r.integers(0, 5, size=6)


def branchy_layers_args():
    r = _rng()
    return r.normal(size=(2, 3)), [{"w": r.normal(size=(3, 3))} for _ in range(3)]


CASES = {
    "mlp": (mlp, mlp_args),
    "scan": (scan, scan_args),
    "gpt_block": (gpt_block, gpt_block_args),
    "cross_entropy": (cross_entropy, cross_entropy_args),
    "branchy_layers": (branchy_layers, branchy_layers_args),
}
