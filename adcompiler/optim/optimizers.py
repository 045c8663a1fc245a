"""AdamW and SGD with momentum over parameter trees, the update compiled by adcompiler.

    opt = AdamW(lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, clip=1.0,
                backend="numba", decay_mask=lambda path, p: p.ndim >= 2)
    state = opt.init(params)                       # a tree of arrays: checkpoint it as .npz
    params, state, info = opt.update(params, grads, state, lr=schedule(step))

Contract:
- `params` and `grads` are trees (dicts, lists, tuples, model objects: tree.py) of float arrays of one dtype, with
  the same structure; `update` returns new trees and leaves its inputs unchanged.
- The whole update (clipping, moments, weight decay, parameter step, for every leaf) is one plain
  NumPy function over lists of arrays, compiled once per tree signature with
  `adcompiler.jit(..., backend)`; Python only computes the per-step scalar coefficients.
- AdamW is torch.optim.AdamW (= gptconfig.adamw_update_np): decoupled weight decay on every leaf
  `decay_mask(path, leaf)` is true for (every leaf when it is None), bias correction,
  `p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`. The scalar coefficients are computed in
  float64 (from Python floats, whatever scalar types the hyper-parameters came as) and rounded
  once to the parameters' dtype, as NumPy does with the Python floats of the
  reference, so the NumPy backend reproduces the reference bit for bit.
- SGD is torch.optim.SGD with momentum (dampening 0): `g += wd * p` (coupled L2 weight decay,
  on the leaves `decay_mask` picks as for AdamW),
  `buf = momentum * buf + g` (buf starts at zero, so the first step has buf = g, as in torch),
  `p -= lr * (g + momentum * buf if nesterov else buf)`.
- `clip=c` clips by the global norm first (clip.py); `clip=None` leaves gradients untouched.
- A tied weight (one array object at several places of `params`) is one parameter, as in
  PyTorch: its gradient is the sum of its places' gradients (`grad` gives one at each place),
  it has one state (its first place's, the one `decay_mask` is asked about), and the new array
  is put at every place of the new tree, so the tie holds on the next step. `clip=` and
  `grad_norm` measure that sum (clip_by_global_norm, given only gradients, sees the places
  apart), and `grad_sq` gives it at each of the tie's paths (not to be added up).
- Every float array of a model object is a parameter: a buffer the model replaces itself (a
  batch norm's running mean, gradient zero) is decayed by AdamW unless `decay_mask` leaves it
  out (PyTorch steps parameters only).
- `state["step"]` counts the updates made (an int64 0-d array); `info` has `grad_norm` (global
  norm before clipping) and `grad_sq` ({leaf path: squared norm}) for reports.
"""
from __future__ import annotations

import math

import numpy as np

from .. import api
from ..errors import AdcompilerError
from .clip import CLIP_EPS
from .tree import check_like, flatten, owners, tree_zeros_like, unflatten


def adamw_update(params, grads, m, v, coef, max_norm, clipping):
    """One AdamW step on lists of arrays; `coef` holds the per-step scalars (see AdamW)."""
    b1, one_minus_b1, b2, one_minus_b2, decays, step_size, bc2_sqrt, eps = coef
    # clip.clip_grads, inlined: the frontend traces into user code only, not into functions
    # of adcompiler's own modules (it runs those natively)
    sq = [np.sum(g * g) for g in grads]
    norm = np.sqrt(sum(sq))
    if clipping:
        scale = np.minimum(1.0, max_norm / (norm + CLIP_EPS))
        grads = [g * scale for g in grads]
    new_p, new_m, new_v = [], [], []
    for p, g, mi, vi, decay in zip(params, grads, m, v, decays, strict=True):
        mi = mi * b1 + one_minus_b1 * g
        vi = vi * b2 + one_minus_b2 * (g * g)
        p = p * decay
        p = p - step_size * (mi / (np.sqrt(vi) / bc2_sqrt + eps))
        new_p.append(p)
        new_m.append(mi)
        new_v.append(vi)
    return new_p, new_m, new_v, norm, sq


def sgd_update(params, grads, buf, coef, max_norm, clipping, nesterov, decay):
    """One SGD-with-momentum step on lists of arrays; `coef` = (lr, momentum, each leaf's
    weight decay)."""
    lr, momentum, wds = coef
    # clip.clip_grads, inlined: the frontend traces into user code only, not into functions
    # of adcompiler's own modules (it runs those natively)
    sq = [np.sum(g * g) for g in grads]
    norm = np.sqrt(sum(sq))
    if clipping:
        scale = np.minimum(1.0, max_norm / (norm + CLIP_EPS))
        grads = [g * scale for g in grads]
    new_p, new_b = [], []
    for p, g, b, wd in zip(params, grads, buf, wds, strict=True):
        if decay:
            g = g + wd * p
        b = momentum * b + g
        if nesterov:
            p = p - lr * (g + momentum * b)
        else:
            p = p - lr * b
        new_p.append(p)
        new_b.append(b)
    return new_p, new_b, norm, sq


class _Tied:
    """The parameter leaves as distinct parameters: leaf lists in, one entry per parameter out
    (`pick`, `add` for gradients), and back (`spread`)."""

    def __init__(self, paths, leaves):
        owner = owners(leaves)
        self.paths, self.first = paths, [i for i, o in enumerate(owner) if o == i]
        slot = {i: k for k, i in enumerate(self.first)}
        self.slot = [slot[o] for o in owner]
        self.tied = len(self.first) < len(owner)   # (else each list is passed as it is)

    def pick(self, leaves):
        return [leaves[i] for i in self.first] if self.tied else leaves

    def add(self, grads):
        if not self.tied:
            return grads
        out = self.pick(grads)
        for j, k in enumerate(self.slot):
            if self.first[k] != j:
                out[k] = out[k] + grads[j]
        return out

    def spread(self, values):
        return [values[k] for k in self.slot] if self.tied else values


def _leaves(params, grads, *states):
    """(a _Tied of the parameter leaves, then one entry per parameter of: their paths, the
    parameters, the gradients, each state tree's leaves; the float dtype's scalar type), after
    checking that the trees match leaf by leaf: a gradient or a moment of another shape would
    broadcast silently into a parameter of a new shape."""
    paths, p = flatten(params)
    if not p:
        raise AdcompilerError("the parameter tree holds no arrays")
    tied = _Tied(paths, p)
    p = [np.asarray(x) for x in p]
    dtypes = {x.dtype for x in p}
    if len(dtypes) != 1 or not np.issubdtype(p[0].dtype, np.floating):
        odd = next(f"'{q}' is {x.dtype}" for q, x in zip(paths, p)
                   if x.dtype != p[0].dtype or not np.issubdtype(x.dtype, np.floating))
        raise AdcompilerError(f"the parameters need one float dtype, got {sorted(map(str, dtypes))}"
                              f": {odd} (keep integer and boolean values, which get no "
                              "gradient, out of the parameter tree)")
    out = []
    for what, tree in (("gradient", grads), *states):
        tpaths, leaves = flatten(tree)
        if tpaths != paths:
            lacks = [q for q in paths if q not in tpaths]
            why = (f": it has no '{lacks[0]}' (None there is no array)" if lacks else
                   f": it has '{next(q for q in tpaths if q not in paths)}', they do not"
                   if set(tpaths) != set(paths) else ": its entries are in another order")
            raise AdcompilerError(f"the {what} tree does not have the structure of the "
                                  f"parameters{why}")
        leaves = [np.asarray(y) for y in leaves]
        for q, x, y in zip(paths, p, leaves, strict=True):
            check_like(y, x, f"{what} of '{q}'", "its parameter")
        out.append(leaves)
    g, *states = out
    return (tied, tied.pick(paths), tied.pick(p), tied.add(g), *map(tied.pick, states),
            p[0].dtype.type)


def _check_range(name, value, low, high):
    if not low <= value < high:
        raise AdcompilerError(f"{name} must be in [{low}, {high}), got {value}")


def _state(state, keys, name):
    """`state`'s trees at `keys`, after checking it is what this optimiser's `init` gives."""
    missing = [k for k in ("step", *keys) if not isinstance(state, dict) or k not in state]
    if missing:
        raise AdcompilerError(f"the state passed to {name}.update is not one its init(params) "
                              f"gives: no {', '.join(map(repr, missing))} in it "
                              f"(got {type(state).__name__})")
    return [state[k] for k in keys]


def _arrays(params, tied, values):
    """The tree of `params`' structure holding each parameter's value as an array at its places
    (a 0-d result is a NumPy scalar: the state stays a tree of arrays)."""
    return unflatten(params, tied.spread([np.asarray(x) for x in values]))


class _Optimizer:
    def __init__(self, lr, clip, backend, decay_mask, **ranges):
        if clip is not None and not clip > 0:
            raise AdcompilerError(f"clip must be positive or None, got {clip}")
        if decay_mask is not None and not callable(decay_mask):
            raise AdcompilerError("decay_mask must be None or a function (path, leaf) -> bool, "
                                  f"got {type(decay_mask).__name__}")
        for name, (value, low, high) in {"lr": (lr, 0.0, math.inf), **ranges}.items():
            _check_range(name, value, low, high)
        self.lr, self.clip, self.backend, self.decay_mask = float(lr), clip, backend, decay_mask

    def _lr(self, lr):
        """This step's learning rate, a Python float (float64: np.float32 hyper-parameters
        made the coefficients float32 before they were rounded)."""
        if lr is None:
            return self.lr
        _check_range("lr", lr, 0.0, math.inf)
        return float(lr)

    def _decays(self, paths, p, on, off):
        """Each leaf's decay coefficient: `on` where `decay_mask` picks the leaf, else `off`."""
        if self.decay_mask is None:
            return [on] * len(p)
        return [on if self.decay_mask(q, x) else off for q, x in zip(paths, p, strict=True)]

    def _info(self, tied, norm, sq):
        """A tied parameter's squared gradient norm is reported at each of its paths."""
        return {"grad_norm": float(norm),
                "grad_sq": {p: float(s) for p, s in zip(tied.paths, tied.spread(sq),
                                                         strict=True)}}


class AdamW(_Optimizer):
    def __init__(self, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, clip=None,
                 backend=None, decay_mask=None):
        b1, b2 = betas
        super().__init__(lr, clip, backend, decay_mask, beta1=(b1, 0.0, 1.0), beta2=(b2, 0.0, 1.0),
                         eps=(eps, 0.0, math.inf), weight_decay=(weight_decay, 0.0, math.inf))
        self.betas, self.eps, self.weight_decay = (float(b1), float(b2)), float(eps), \
            float(weight_decay)
        self._update = api.jit(adamw_update, backend=backend)

    def init(self, params):
        return {"step": np.array(0, np.int64), "m": tree_zeros_like(params),
                "v": tree_zeros_like(params)}

    def update(self, params, grads, state, lr=None):
        lr = self._lr(lr)
        m, v = _state(state, ("m", "v"), "AdamW")
        tied, paths, p, g, m, v, dt = _leaves(params, grads, ("first moment", m),
                                              ("second moment", v))
        t = int(state["step"]) + 1
        b1, b2 = self.betas
        decays = self._decays(paths, p, dt(1.0 - lr * self.weight_decay), dt(1.0))
        coef = (dt(b1), dt(1.0 - b1), dt(b2), dt(1.0 - b2), decays, dt(lr / (1.0 - b1 ** t)),
                dt(math.sqrt(1.0 - b2 ** t)), dt(self.eps))
        new_p, new_m, new_v, norm, sq = self._update(
            p, g, m, v, coef, dt(self.clip or 0.0), self.clip is not None)
        new_state = {"step": np.array(t, np.int64), "m": _arrays(params, tied, new_m),
                     "v": _arrays(params, tied, new_v)}
        return _arrays(params, tied, new_p), new_state, self._info(tied, norm, sq)


class SGD(_Optimizer):
    def __init__(self, lr=0.1, momentum=0.9, weight_decay=0.0, nesterov=False, clip=None,
                 backend=None, decay_mask=None):
        super().__init__(lr, clip, backend, decay_mask, momentum=(momentum, 0.0, math.inf),
                         weight_decay=(weight_decay, 0.0, math.inf))
        if nesterov and momentum == 0:
            raise AdcompilerError("nesterov needs a momentum above 0")
        self.momentum, self.weight_decay, self.nesterov = float(momentum), float(weight_decay), \
            nesterov
        self._update = api.jit(sgd_update, backend=backend)

    def init(self, params):
        return {"step": np.array(0, np.int64), "momentum": tree_zeros_like(params)}

    def update(self, params, grads, state, lr=None):
        lr = self._lr(lr)
        b, = _state(state, ("momentum",), "SGD")
        tied, paths, p, g, b, dt = _leaves(params, grads, ("momentum", b))
        coef = (dt(lr), dt(self.momentum), self._decays(paths, p, dt(self.weight_decay), dt(0.0)))
        new_p, new_b, norm, sq = self._update(
            p, g, b, coef, dt(self.clip or 0.0), self.clip is not None, self.nesterov,
            self.weight_decay != 0)
        new_state = {"step": np.array(int(state["step"]) + 1, np.int64),
                     "momentum": _arrays(params, tied, new_b)}
        return _arrays(params, tied, new_p), new_state, self._info(tied, norm, sq)
