"""Gradient accumulation over micro-batches.

    acc = GradAccumulator(backend=None)
    for batch in micro_batches:
        loss, grads = value_and_grad(loss_fn)(params, *batch)
        acc.add(loss, grads)
    loss, grads = acc.mean()        # the mean loss and the mean gradient tree; acc is emptied

The mean of the micro-batch gradients is the gradient of the mean of the micro-batch losses;
when the loss is a mean over examples and the micro-batches have equal sizes, that is the
gradient of the whole batch (up to float rounding: the sums run in a different order). The sum
and the final scaling run as compiled code (`adcompiler.jit`); one micro-batch is returned as it
came, bit for bit (a copy: `add` keeps none of the caller's arrays). Every micro-batch's gradient
tree must have the first one's structure, shapes and dtypes (an AdcompilerError names the leaf);
each leaf keeps its dtype, and a None (the gradient of an integer leaf) stays None.
"""
from __future__ import annotations

import numpy as np

from .. import api
from ..errors import AdcompilerError
from .tree import check_like, flatten, unflatten


def add_leaves(acc, grads):
    return [a + g for a, g in zip(acc, grads, strict=True)]


def scale_leaves(acc, scales):
    return [a * s for a, s in zip(acc, scales, strict=True)]


class GradAccumulator:
    def __init__(self, backend=None):
        self._add = api.jit(add_leaves, backend=backend)
        self._scale = api.jit(scale_leaves, backend=backend)
        self._reset()

    def _reset(self):
        self.count, self._loss, self._tree, self._leaves = 0, 0.0, None, None

    def add(self, loss, grads):
        paths, leaves = flatten(grads)
        if self._tree is None:      # copies: the caller may reuse its arrays in place
            self._tree, self._paths = grads, paths
            self._leaves = [np.array(x) for x in leaves]
        elif paths != self._paths:
            raise AdcompilerError("micro-batch gradients with different structures")
        else:
            for q, a, g in zip(paths, self._leaves, leaves, strict=True):
                check_like(np.asarray(g), a, f"gradient of '{q}' in micro-batch "
                           f"{self.count + 1}", "in the first")
            self._leaves = self._add(self._leaves, leaves)
        self._loss += float(loss)
        self.count += 1

    def mean(self):
        if self.count == 0:
            raise AdcompilerError("GradAccumulator.mean() before any add()")
        leaves = self._leaves
        if self.count > 1:
            # (each leaf's own dtype: a float32 scale would round a float64 leaf's mean)
            leaves = self._scale(leaves, [a.dtype.type(1.0 / self.count) for a in leaves])
        out = self._loss / self.count, unflatten(self._tree, leaves)
        self._reset()
        return out
