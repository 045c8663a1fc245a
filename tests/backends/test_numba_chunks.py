"""Kernels run in chunks of rows on threads (`runtime.launch`), which the small corpus shapes
never reach by themselves: every kernel is launched here, so chunks start in the middle of the
outer axes (each chunk finds its first row's indices by division, then counts) and
accumulations combine per-chunk partials. Compared with the NumPy reference backend."""
import re

import numpy as np
import pytest

import adcompiler
from adcompiler.backends.numba_cpu import driver, runtime

RNG = np.random.default_rng(7)


def model(x, w, b):
    s = x * w + b                                   # (3, 5, 7, 4): 105 rows of 4
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    p = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(p * np.arange(4.0)) + np.sum(np.tanh(s) ** 2)


@pytest.fixture
def every_kernel_launched(own_programs_dir, monkeypatch):
    monkeypatch.setattr(driver, "PAR_MIN", 0)


@pytest.fixture
def chunks_in_reverse(every_kernel_launched, monkeypatch):
    """Chunks run one after another, the last first: a row that reads what an earlier chunk's
    row stores reads it before it is stored on every run, not only when threads race."""
    def launch(kernel, rows, *args):
        nch = min(runtime.CHUNKS, rows)
        parts = runtime.partials(kernel, nch, args)
        cuts = [rows * c // nch for c in range(nch + 1)]
        for c in reversed(range(nch)):
            kernel.body(c, cuts[c], cuts[c + 1], *args, *parts)
        if parts:
            kernel.combine(*args, *parts)
    monkeypatch.setattr(runtime, "launch", launch)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunked_kernels_match_numpy(every_kernel_launched, dtype):
    args = (RNG.standard_normal((3, 5, 7, 4)).astype(dtype),
            RNG.standard_normal((7, 4)).astype(dtype), RNG.standard_normal((4,)).astype(dtype))
    want = adcompiler.value_and_grad(model, wrt=(0, 1, 2), backend="numpy")(*args)
    got = adcompiler.value_and_grad(model, wrt=(0, 1, 2), backend="numba")(*args)
    source = adcompiler.grad(model, wrt=(0, 1, 2), backend="numba").adjoint_source(*args)
    assert re.search(r"rt\.launch\(k_\w+, 105,", source)     # the 105 rows, in chunks
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got[0], want[0], rtol=tol)
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def reductions(x):
    """Reductions across the 105 rows of x (105, 4): each chunk keeps a partial, `combine`
    merges them with the reduction's own ufunc."""
    return (np.sum(x, axis=0), np.prod(x * 0.05 + 1.0, axis=0), np.max(x, axis=0),
            np.min(x, axis=0))


@pytest.mark.parametrize("nan", [False, True])
def test_chunked_reductions_combine_like_numpy(every_kernel_launched, nan):
    x = RNG.standard_normal((105, 4))
    if nan:
        x[77, 2] = np.nan           # in a late chunk: every partial but one is a number
    f = adcompiler.jit(reductions, backend="numba")
    with np.errstate(invalid="ignore"):
        got = f(x)
    want = reductions(x)        # plain NumPy
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    (_, call), = f._cache.values()
    assert re.search(r"rt\.launch\(k_\w+, 105,", call.source)


def normed_with_exp_gain(x, lg):
    g = np.exp(lg)
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5) * g, g


def test_a_value_only_the_first_row_stores_is_not_read_back_by_other_rows(chunks_in_reverse):
    """The gain varies along the inner axis only: the first row stores it (`if i0 == 0:`),
    and a later phase of every row read it back from that output, which a chunk on another
    thread read before the first row had stored it (garbage on a first call, the last call's
    gain after). Each row reads its own copy instead."""
    f = adcompiler.jit(normed_with_exp_gain, backend="numba")
    x = RNG.standard_normal((105, 4))
    for _ in range(3):
        lg = RNG.standard_normal(4)
        for g, w in zip(f(x, lg), normed_with_exp_gain(x, lg), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12)
