"""scipy.spatial.distance's cdist and pdist: values against SciPy running the same function
(fecheck.check) for each supported metric, integer and float32 points too (SciPy's float64);
gradients against finite differences (adcompiler.check_grad) on both backends; unsupported
metrics and options are errors naming the call."""
import numpy as np
import pytest
from scipy.spatial import distance

import adcompiler
from fecheck import check, rand

BACKENDS = ["numpy", "numba"]


def all_metrics(a, b):
    return (distance.cdist(a, b), distance.cdist(a, b, "sqeuclidean"),
            distance.cdist(a, b, metric="cityblock"), distance.cdist(a, b, "chebyshev"),
            distance.cdist(a, b, "minkowski", p=3), distance.cdist(a, b, "minkowski", p=1.5),
            distance.cdist(a, b, "cosine"), distance.pdist(a), distance.pdist(a, "cityblock"),
            distance.pdist(b, "minkowski", p=4))


def test_values_against_scipy():
    check(all_metrics, rand(5, 3), rand(4, 3))
    check(all_metrics, rand(5, 3, dtype=np.float32), rand(4, 3, dtype=np.float32))
    check(all_metrics, np.arange(6).reshape(3, 2), np.arange(4).reshape(2, 2) + 1)


def kernel_loss(a, b):
    """An RBF kernel between point sets, pairwise distances' spread and cosine distances."""
    return np.sum(np.exp(-distance.cdist(a, b, "sqeuclidean") / 2)) + \
        np.sum(distance.pdist(a) ** 2) + np.sum(distance.cdist(a, b, "cosine")) + \
        np.sum(distance.cdist(a, b, "minkowski", p=3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_against_finite_differences(backend):
    adcompiler.check_grad(kernel_loss, rand(5, 3), rand(4, 3), wrt=(0, 1), backend=backend)


def test_unsupported_metrics_and_options_are_errors():
    a = rand(3, 2)
    with pytest.raises(adcompiler.TraceError, match=r"metric 'hamming' is not supported"):
        adcompiler.trace(lambda a: distance.cdist(a, a, "hamming"), a)
    with pytest.raises(adcompiler.TraceError, match=r"w= is not supported for metric"):
        adcompiler.trace(lambda a: distance.pdist(a, "euclidean", w=np.ones(2)), a)
    with pytest.raises(adcompiler.TraceError, match=r"must have the same number of columns"):
        adcompiler.trace(lambda a: distance.cdist(a, a[:, :1]), a)


def test_pdist_of_many_points_has_no_index_constants():
    """pdist's pairs are computed from their positions: n (n - 1) / 2 literal indices made
    the IR, and its compile, grow as n^2 (24 s for 1500 points). The values are SciPy's,
    every pair in its place, from 0 and 1 points up to 800."""
    for n in (0, 1, 2, 3, 7, 800):
        a = rand(n, 2)
        fn = check(lambda a: distance.pdist(a, "sqeuclidean"), a)
        sizes = [np.size(op.attrs["value"]) for op in fn.walk() if op.name == "constant"]
        assert max(sizes, default=0) <= 1, sizes
