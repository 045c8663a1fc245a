"""Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics).

    clip_grads(grads, max_norm) -> (clipped, norm, sq_norms)        plain NumPy over a list
    clip_by_global_norm(grads_tree, max_norm, backend=None) -> (clipped_tree, norm)   compiled

`norm` is the L2 norm of all gradients together, measured before clipping; every gradient is
multiplied by min(1, max_norm / (norm + 1e-6)), so the direction is kept and the norm becomes at
most max_norm. `sq_norms[i]` is the squared norm of leaf i (per-layer reporting). `max_norm`
must have the gradients' dtype (a NumPy scalar) so the arithmetic stays in that dtype
(`clip_by_global_norm` makes it one of the widest: float64 where any leaf is). A tree without
leaves (every gradient None) is returned as it is, with norm 0.
The optimisers repeat these three lines inside their compiled update: the frontend runs
functions of adcompiler's own modules natively instead of tracing into them, so a traced
function cannot call `clip_grads`.
"""
from __future__ import annotations

import numpy as np

from .. import api
from .tree import flatten, unflatten

CLIP_EPS = 1e-6      # torch's: keeps the scale finite when every gradient is zero


def clip_grads(grads, max_norm):
    sq = [np.sum(g * g) for g in grads]
    norm = np.sqrt(sum(sq))
    scale = np.minimum(1.0, max_norm / (norm + CLIP_EPS))
    # (each gradient keeps its dtype, as torch's clip_grad_norm_ does: a float32 one next to
    # a float64 one is scaled in float32)
    return [g * scale.astype(g.dtype) for g in grads], norm, sq


_JIT: dict = {}


def clip_by_global_norm(grads, max_norm, backend=None):
    """Clip a gradient tree; returns (clipped tree, norm before clipping as a float)."""
    _, leaves = flatten(grads)
    if not leaves:
        return grads, 0.0
    fn = _JIT.get(backend)
    if fn is None:
        fn = _JIT[backend] = api.jit(clip_grads, backend=backend)
    clipped, norm, _ = fn(leaves, np.result_type(*leaves).type(max_norm))
    return unflatten(grads, clipped), float(norm)
