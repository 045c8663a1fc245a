"""Print the adjoint adcompiler generates for one GPT block (LayerNorm, causal multi-head
attention, GELU MLP, residuals) followed by a cross-entropy over logits.

    python examples/show_adjoint.py            # the generated Python source
    python examples/show_adjoint.py --ir       # the primal, forward and backward IR too
    python examples/show_adjoint.py --backend numba    # the Numba driver and its kernels
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt"))
import model  # noqa: E402

import adcompiler  # noqa: E402


def block_loss(p, x, head_w, targets, n_head):
    """One transformer block, then logits and the mean cross-entropy."""
    y = model.block(x, p, n_head)
    return model.cross_entropy(y @ head_w, targets)


def example_inputs(B=2, T=4, d=8, n_head=2, V=5, seed=0):
    params = model.init_params(V, T, d, n_head, 1, 4 * d, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, d))
    targets = rng.integers(0, V, (B, T))
    return params["layers"][0], x, params["head_w"], targets, n_head


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--ir", action="store_true", help="also print the IR")
    ap.add_argument("--backend", default="numpy", choices=sorted(adcompiler.api.BACKENDS),
                    help="numpy: the readable reference adjoint (default); numba: its driver "
                         "and fused kernels")
    args = ap.parse_args()
    g = adcompiler.grad(block_loss, wrt=(0, 1, 2), backend=args.backend)
    inputs = example_inputs()
    if args.ir:
        print(g.ir(*inputs))
    print(g.adjoint_source(*inputs))
    report = adcompiler.check_grad(block_loss, *inputs, wrt=(0, 1, 2), samples=4,
                                   backend=args.backend)
    print("# gradient check against float64 central differences (worst relative error):")
    for name, err in report.items():
        print(f"#   {name}: {err:.2e}")


if __name__ == "__main__":
    main()
