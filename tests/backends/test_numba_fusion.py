"""The fusion pass's loop domains (`fusion.partition`): a group's loops are those of its
biggest op, never the product of unrelated ones."""
import math

import numpy as np

from adcompiler.backends.numba_cpu.fusion import partition
from adcompiler.backends.numba_cpu.program import inlined
from adcompiler.frontend import trace
from adcompiler.ir.passes import run_passes


def update(params, grads, coef):
    """An optimiser step: after CSE every parameter's chain reads the same scalars."""
    return [p * coef[0] - (1.0 - coef[0]) * coef[1] * g for p, g in zip(params, grads)]


def test_chains_sharing_a_scalar_keep_their_own_loops():
    params = [np.ones((4, 6)), np.ones((5, 3)), np.ones((7,))]
    fn = inlined(trace(update, params, params, np.ones(2)))
    fn = run_passes(fn, ["fold", "simplify", "cse", "dce"])
    groups = [g for kind, g in partition(fn.body) if kind == "kernel"]
    assert groups
    for g in groups:
        biggest = max(math.prod(op.result.type.shape) for op in g.ops)
        assert math.prod(g.domain) <= biggest, (g.domain, [op.name for op in g.ops])
