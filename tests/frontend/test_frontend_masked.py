"""Whole reductions of reads at a run-time boolean mask (masked.py): values and dtypes against
NumPy running the same function, gradients against central finite differences on both
backends (also where the expression would be -inf or NaN off the mask), and the uses that
stay refused, located at the user's line."""
import numpy as np
import pytest
from scipy import stats

import adcompiler
from fecheck import check, located_error, rand

FILE = "test_frontend_masked.py"


def routed(x, w):
    """A mixture-of-experts aux loss: the logits of tokens routed to expert 0."""
    logits = x @ w
    return np.sum(logits[np.argmax(logits, 1)[:, None] == np.arange(3)])


def masked_losses(p, y):
    valid = y > 0
    return (np.mean((p[valid] - y[valid]) ** 2), np.log(p[valid]).sum(), p[valid].max(),
            np.min(2.0 * p[valid]), np.amax(-p[valid]), valid[valid].sum(),
            np.mean(p[valid].astype(np.float32)), np.sum((p > 0.5)[valid]))


def row_masks(logp, mask, w, emb, labels):
    """Masks of leading axes: a sequence loss over the valid tokens, a class centroid,
    variances and a count."""
    return (-logp[mask].sum(), np.mean(logp[mask] * w), np.min(logp[mask] - w, axis=0),
            emb[labels == 1].mean(axis=0), emb[labels == 1].max(0), np.var(emb[labels == 1]),
            emb[labels == 0].std(axis=0, ddof=1), len(emb[labels == 1]),
            np.sum(emb[labels == 1]) / len(emb[labels == 1]))


def spelled_otherwise(x):
    """A positional axis (a function's second argument, a method's first) and keepdims."""
    rows = x[:, 0] > 0
    return (np.sum(x[rows], 0), np.sum(x[x > 0], keepdims=True),
            np.mean(x[rows], axis=0, keepdims=True), np.max(x[rows], keepdims=True),
            x[x > 0].std(0, keepdims=True), np.var(x[rows], 0, keepdims=True))


def bound_to_names(pred, y):
    """Masked reads bound to names first, then reduced (training code's `pred_v =
    pred[valid]`); a name read outside a reduction is refused."""
    valid = y > 0
    pred_v = pred[valid]
    err = pred_v - y[valid]
    return np.mean(err ** 2) + np.sum(np.log(pred_v)), len(pred_v)


def name_returned(pred, y):
    kept = pred[y > 0]
    return kept


ROWS = (rand(2, 4, 5), np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool), rand(5), rand(6, 3),
        np.array([1, 0, 1, 1, 0, 0]))


def assigned_at_the_mask(v, ex, p):
    """Longstaff-Schwartz's exercise (V[m] = ex[m]), a guarded log, an update of rows."""
    v, out, rows = v.copy(), np.zeros_like(p), np.zeros((3, 4))
    m = ex > 0.1
    v[m] = ex[m]
    valid = p > 0.2
    out[valid] = np.log(p[valid]) * ex[valid]
    out[valid] += 2.0 * p[valid]
    lead = p[:3] > 0.5
    rows[lead] = np.outer(p[:3], ex[:4])[lead] * 2.0
    return v, out, rows


def masked_norms(r, y):
    """Norms of the valid residuals: the 2-norm of every entry, per column, kept dims."""
    valid = y[:, 0] > 0
    return (np.linalg.norm(r[valid] - 1.0) + np.sum(np.linalg.norm(r[valid], axis=0))
            + np.linalg.norm(2.0 * r[valid], keepdims=True)[0, 0])


def masked_dots(x, y):
    """Products of vectors at a mask: a weighted sum of the valid entries, and x @ y as ever."""
    m = y > 0
    return x[m] @ y[m], (x[m] * 2.0) @ np.exp(y[m]), x @ y, (x[m] - 0.5) @ (y[m] * x[m])


def _squashed(v):
    return np.log1p(v * v) * 2.0


def through_calls(xb, y, s):
    """A Tobit likelihood (scipy.stats' methods are functions adcompiler traces) and a helper
    of the user's, each given masked reads."""
    c = y <= 0
    return (np.sum(stats.norm.logcdf(-xb[c] / s))
            + np.sum(stats.norm.logpdf((y[~c] - xb[~c]) / s) - np.log(s))
            + np.mean(_squashed(xb[c])))


def test_values_against_numpy():
    check(assigned_at_the_mask, rand(8), rand(8), np.abs(rand(8)))
    check(routed, rand(6, 3), rand(3, 3))
    check(masked_losses, np.abs(rand(10)) + 0.1, rand(10))
    check(row_masks, *ROWS)
    x = rand(6, 3)
    x[0, 0] = 1.0           # (a row on the mask)
    check(spelled_otherwise, x)
    check(bound_to_names, np.abs(rand(8)) + 0.1, rand(8))
    check(through_calls, rand(9), np.maximum(rand(9), 0.0), 1.3)
    check(masked_norms, rand(6, 3), rand(6, 3))
    check(masked_dots, rand(7), rand(7))
    with pytest.raises(adcompiler.TraceError, match="this name holds one"):
        adcompiler.trace(name_returned, rand(4), rand(4))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients(backend):
    adcompiler.check_grad(routed, rand(6, 3), rand(3, 3), wrt=(0, 1), backend=backend)
    adcompiler.check_grad(lambda p, y: sum(masked_losses(p, y)[:5]), np.abs(rand(10)) + 0.1,
                          rand(10), wrt=(0, 1), backend=backend)
    adcompiler.check_grad(lambda lp, m, w, e, lab: sum(np.sum(r) for r in row_masks(
        lp, m, w, e, lab)[:7]), *ROWS, wrt=(0, 2, 3), backend=backend)
    adcompiler.check_grad(lambda v, ex, p: sum(np.sum(r ** 2) for r in assigned_at_the_mask(
        v, ex, p)), rand(8), rand(8), np.abs(rand(8)), wrt=(0, 1, 2), backend=backend)
    # no entry on the mask: the division's derivative at the stand-in was 0 * inf (NaNError)
    x = rand(3)
    got = adcompiler.grad(lambda x, s: np.sum(x[s > 0] / s[s > 0]) + np.sum(x ** 2),
                          backend=backend)(x, np.zeros(3))
    np.testing.assert_allclose(got, 2 * x, rtol=1e-14)
    adcompiler.check_grad(lambda p, y: bound_to_names(p, y)[0], np.abs(rand(8)) + 0.1, rand(8),
                          wrt=(0, 1), backend=backend)
    adcompiler.check_grad(through_calls, rand(9), np.maximum(rand(9), 0.0), 1.3, wrt=(0, 2),
                          backend=backend)
    adcompiler.check_grad(masked_norms, rand(6, 3), rand(6, 3), backend=backend)
    adcompiler.check_grad(lambda x, y: sum(masked_dots(x, y)), rand(7), rand(7), wrt=(0, 1),
                          backend=backend)
    p = np.linspace(-1.0, 1.0, 8)      # log of the entries off the mask: NaN
    adcompiler.check_grad(lambda p: np.sum(np.log(p[p > 0])), p, backend=backend)


def other_array(x, y):
    return np.sum(x[x > 0] * y)


def two_masks(x):
    return np.sum(x[x > 0] + x[x < 1])


def not_whole(x):
    return np.sum(x[x > 0], axis=1)


def sorted_read(x):
    return np.sum(np.sort(x[x > 0]))


def returned(x):
    return x[x > 0]


def sized(x):
    return np.sum(x[x > 0] / x[x > 0].size)


# (the norm would be of the stand-in's entries, those off the mask too)
def normed(x):
    return np.sum(x[x > 0] * np.linalg.norm(x[x > 0]))


def _share(v):
    return v / np.sum(v)


def shared(x):
    return np.sum(_share(x[x > 0]) ** 2)


def matrix_product(x):
    return np.sum(np.outer(x, x)[x > 0] @ x[x > 0])


def norm_of_order_1(x):
    return np.linalg.norm(x[x > 0], ord=1)


def assigned_elsewhere(x):
    x[0] = x[x > 0]


@pytest.mark.parametrize("f, match", [
    (other_array, "reduction of its entries"), (two_masks, "two masks meet"),
    (not_whole, "takes axis None or 0"), (sorted_read, "reduction of its entries"),
    (returned, "a reduction written around the read"),
    (assigned_elsewhere, "can be assigned only at that mask"),
    (sized, "its shape is a run-time value"), (normed, "reduction of its entries"),
    (shared, "reduction of its entries"), (norm_of_order_1, "takes ord=None"),
    (matrix_product, "for vectors at a 1-d mask")])
def test_other_uses_are_refused_at_the_users_line(f, match):
    located_error(f, (rand(4), rand(4)) if f is other_array else (rand(4),), match, FILE)


def test_a_maximum_of_no_entry_is_numpys_error():
    with pytest.raises(adcompiler.AssertionFailed, match="zero-size array to reduction "
                                                         "operation maximum"):
        adcompiler.jit(lambda x: x[x > 10].max())(rand(4))
