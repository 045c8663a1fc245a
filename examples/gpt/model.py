"""A GPT-2 style transformer written as plain NumPy functions over a dict of parameters.

The architecture of ../../shared/bench/workload.md: token + learned position embeddings,
pre-LayerNorm blocks (causal multi-head self-attention with a fused QKV projection, GELU MLP),
residual connections, a final LayerNorm, an untied linear head and the mean cross-entropy.
Nothing here is adcompiler-specific: `adcompiler.value_and_grad(loss)` differentiates it.
Softmax and log-softmax are SciPy's, as a model calls torch's or JAX's: each shifts its input by
the row maximum, whose gradient would only cancel, and adcompiler (like them) stops it there; the
shift written out by hand, `np.exp(s - np.max(s, ...))`, is differentiated through the maximum
as well, which on the medium GPT costs ~7 % of the gradient (a mask of each row's maximum).

Parameters (canonical layout, `x @ W + b`): wte (V, d), wpe (T, d), lnf_g, lnf_b (d),
head_w (d, V), and per layer in params["layers"]: ln1_g, ln1_b, attn_w (d, 3d), attn_b,
proj_w (d, d), proj_b, ln2_g, ln2_b, fc_w (d, dff), fc_b, fc2_w (dff, d), fc2_b.
"""
import math

import numpy as np
import scipy.special

LN_EPS = 1e-5
GELU_C = math.sqrt(2.0 / math.pi)


def layer_norm(x, g, b):
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + LN_EPS) * g + b


def gelu(u):
    return 0.5 * u * (1.0 + np.tanh(GELU_C * (u + 0.044715 * u * u * u)))


def attention(h, p, n_head):
    B, T, d = h.shape
    hd = d // n_head
    qkv = h @ p["attn_w"] + p["attn_b"]
    qkv = qkv.reshape(B, T, 3, n_head, hd).transpose(2, 0, 3, 1, 4)   # (3, B, H, T, hd)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(hd))
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    scores = np.where(mask, -1e9, scores)
    y = scipy.special.softmax(scores, axis=-1) @ v                   # (B, H, T, hd)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, d)
    return y @ p["proj_w"] + p["proj_b"]


def block(x, p, n_head):
    x = x + attention(layer_norm(x, p["ln1_g"], p["ln1_b"]), p, n_head)
    h = layer_norm(x, p["ln2_g"], p["ln2_b"])
    return x + gelu(h @ p["fc_w"] + p["fc_b"]) @ p["fc2_w"] + p["fc2_b"]


def logits(params, tokens, n_head):
    T = tokens.shape[1]
    x = params["wte"][tokens] + params["wpe"][:T]
    for p in params["layers"]:
        x = block(x, p, n_head)
    return layer_norm(x, params["lnf_g"], params["lnf_b"]) @ params["head_w"]


def cross_entropy(z, targets):
    """Mean negative log-likelihood of integer targets under softmax(z), over all positions."""
    V = z.shape[-1]
    logp = scipy.special.log_softmax(z.reshape(-1, V), axis=-1)
    t = targets.reshape(-1)
    return -np.mean(logp[np.arange(t.shape[0]), t])


def loss(params, tokens, targets, n_head):
    return cross_entropy(logits(params, tokens, n_head), targets)


def init_params(V, T, d, n_head, n_layer, dff, seed=0, dtype=np.float32):
    """normal(0, 0.02) weights and embeddings, zero biases, unit LayerNorm gains."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(dtype)

    def layer():
        return {"ln1_g": np.ones(d, dtype), "ln1_b": np.zeros(d, dtype),
                "attn_w": normal(d, 3 * d), "attn_b": np.zeros(3 * d, dtype),
                "proj_w": normal(d, d), "proj_b": np.zeros(d, dtype),
                "ln2_g": np.ones(d, dtype), "ln2_b": np.zeros(d, dtype),
                "fc_w": normal(d, dff), "fc_b": np.zeros(dff, dtype),
                "fc2_w": normal(dff, d), "fc2_b": np.zeros(d, dtype)}

    return {"wte": normal(V, d), "wpe": normal(T, d),
            "layers": [layer() for _ in range(n_layer)],
            "lnf_g": np.ones(d, dtype), "lnf_b": np.zeros(d, dtype), "head_w": normal(d, V)}
