"""Gradients of convolutions and pairwise programs: adcompiler's backends against the loss
alone in NumPy and PyTorch eager's gradient of the same program, in one run.

    python benchmarks/signal_programs.py [--calls 20]

Prints, per program, the median time of one call (the four called in turn, in bursts, as
small_programs.py does) of: the loss in NumPy/SciPy, adcompiler's gradient on the Numba
backend and on the NumPy backend, torch's loss + backward where torch is installed, and the
Numba backend's first call (trace, differentiation and compile; its kernels from this run's
cache folder, which starts empty). Re-executes itself without OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE and with every library on 2 threads, as gpt_step.py does.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from scipy import signal
from scipy.spatial.distance import pdist

import gpt_step
from small_programs import medians


def convolve_same(a, v):
    return np.sum(np.tanh(np.convolve(a, v, "same")) ** 2)


def convolve_full(a, v):
    return np.sum(np.convolve(a, v) ** 2)


def blur_2d(image, kernel):
    return np.sum(signal.convolve2d(image, kernel, mode="same") ** 2)


def tsne_kl(y, p):
    q = 1.0 / (1.0 + pdist(y, "sqeuclidean"))
    q = q / (2.0 * np.sum(q))
    return 2.0 * np.sum(p * np.log(p / q))


def upper_pairs(y):
    k = y @ y.T
    return np.sum(k[np.triu_indices(y.shape[0], 1)] ** 2)


def torch_programs():
    """The programs in torch, by name (each (loss, wrt) -> gradient function), or {}."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    torch.set_num_threads(2)

    def conv1d(a, v, padding):      # np.convolve: a correlation with v reversed
        return F.conv1d(a[None, None], v.flip(0)[None, None], padding=padding)[0, 0]

    def tsne(y, p):
        q = 1.0 / (1.0 + torch.pdist(y) ** 2)
        q = q / (2.0 * q.sum())
        return 2.0 * torch.sum(p * torch.log(p / q))

    def upper(y):
        k = y @ y.T
        i, j = torch.triu_indices(y.shape[0], y.shape[0], 1)
        return torch.sum(k[i, j] ** 2)
    losses = {
        "convolve_same": lambda a, v: torch.sum(torch.tanh(conv1d(a, v, "same")) ** 2),
        "convolve_full": lambda a, v: torch.sum(conv1d(a, v, v.shape[0] - 1) ** 2),
        "blur_2d": lambda x, k: torch.sum(F.conv2d(x[None, None], k.flip(0, 1)[None, None],
                                                   padding="same")[0, 0] ** 2),
        "tsne_kl": tsne, "upper_pairs": upper}

    def gradient(loss, wrt):
        def g(*args):
            ts = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(args)]
            loss(*ts).backward()
            return [ts[i].grad for i in wrt]
        return g
    return {name: (lambda wrt, loss=loss: gradient(loss, wrt)) for name, loss in losses.items()}


def programs():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(1500, 2))
    p = rng.random(1500 * 1499 // 2)
    return [("np.convolve 'same', 100000 by 5", convolve_same,
             (rng.normal(size=100000), rng.normal(size=5)), (0, 1)),
            ("np.convolve 'full', 2000 by 2000", convolve_full,
             (rng.normal(size=2000), rng.normal(size=2000)), (0, 1)),
            ("scipy.signal.convolve2d 'same', 256 x 256 by 5 x 5", blur_2d,
             (rng.normal(size=(256, 256)), rng.normal(size=(5, 5))), (0, 1)),
            ("t-SNE's KL on pdist, 1500 points", tsne_kl, (y, p / p.sum()), (0,)),
            ("K[np.triu_indices(1500, 1)] ** 2", upper_pairs, (y,), (0,))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    os.environ["ADCOMPILER_CACHE_DIR"] = tempfile.mkdtemp(prefix="adcompiler-signal-")
    import adcompiler
    torched = torch_programs()
    print("| program | loss alone ms | numba grad ms | numpy grad ms | torch grad ms "
          "| numba first call s | numba ÷ loss | numba ÷ torch |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, f, args, wrt in programs():
        numba = adcompiler.grad(f, wrt=wrt, backend="numba")
        t = time.perf_counter()
        numba(*args)
        first = time.perf_counter() - t
        none = lambda: None     # noqa: E731
        runs = {"loss": (f, none), "numba": (numba, none),
                "numpy": (adcompiler.grad(f, wrt=wrt, backend="numpy"), none)}
        if f.__name__ in torched:
            runs["torch"] = (torched[f.__name__](wrt), none)
        t = medians(runs, args, a.calls, burst=5)
        ms = {k: f"{v * 1e3:.2f}" for k, v in t.items()}
        torch = f"{t['numba'] / t['torch']:.2f}" if "torch" in t else "-"
        print(f"| {name} | {ms['loss']} | {ms['numba']} | {ms['numpy']} | {ms.get('torch', '-')} "
              f"| {first:.1f} | {t['numba'] / t['loss']:.2f} | {torch} |")


if __name__ == "__main__":
    main()
