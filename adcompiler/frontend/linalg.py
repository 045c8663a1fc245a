"""Products built from the registry's `matmul` (rank >= 2, batch dims broadcast): NumPy's
matmul/`@` and dot with their 1-D rules, outer, vdot, inner, the gufuncs matvec, vecmat and
vecdot, einsum, and tensordot (an einsum); np.linalg's matrix_transpose and outer; and
np.linalg's inv, solve, det, slogdet, cholesky, eigh, svd and qr on the registry's LAPACK ops.

Contract: operands are converted to their common dtype first (np.result_type, Python scalars
weak); products of booleans are booleans (any of the ands), as NumPy's. einsum handles any
number of operands, pairwise left to right, each pair lowered to transpose + reshape + matmul
(+ sum for indices only one operand has); an index repeated within one operand takes that
operand's diagonal first (a trace when it is summed); `...` raises FrontendError. Reshapes and
transposes that would not change anything are not emitted, so 'bij,bjk->bik' is one `matmul`.
As NumPy's, einsum of one operand that sums nothing ('ij->ji', 'ii->i') is a writeable view of
it, and matrix_transpose a view.

np.linalg's functions take stacks of square matrices `(..., n, n)` (svd: of any matrices
`(..., m, n)`) and NumPy's dtypes (`_commonType`): float32 stays float32, integers and
booleans become float64, float16 is an error, a mix is float64. `solve(a, b)` follows NumPy
2: b is a vector (one per matrix of a stack) only when it is 1-D, else a stack of matrices
`(..., n, k)`, batch axes broadcast. `slogdet` returns a plain (sign, logabsdet) tuple,
`eigh` a plain (eigenvalues, eigenvectors) one, `svd` a plain (U, S, Vh) one and `qr` a plain
(Q, R) one (NumPy's also name their parts); qr's mode 'complete' is 'reduced' for m <= n
and refused for m > n (Q's extra columns have no gradient), 'raw' is refused. eigh and
eigvalsh read the triangle `UPLO` ('L', the default, or 'U') only, as NumPy's. `svd` with compute_uv and full_matrices (both defaults) is refused
for non-square matrices (full_matrices=False gives the reduced factors; for square ones the
two are the same); `hermitian=True` is refused (eigh is the symmetric decomposition). The
gradients of eigenvectors and singular vectors are inf or NaN where two eigenvalues
(singular values) are equal (ops/linalg.py says why). A singular matrix (or, for cholesky,
one that is not positive definite) raises NumPy's LinAlgError when the compiled code runs
(runtime.nans names the user's line).
"""
from __future__ import annotations

import numbers
import string

import numpy as np

from .composites import diagonal_view
from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .reductions import any_all, norm_axes
from .shapes import (as_array, broadcast_to, expand_dims, ravel, reshape, squeeze, static_ints,
                     swapaxes, transpose)
from .values import Traced, common_dtype


def _operands(cx: Emitter, a, b):
    # np.dot, inner, vdot, outer take their operands as arrays: Python scalars are strong
    a, b = as_array(cx, a), as_array(cx, b)
    dtype = common_dtype(a, b)
    return cx.tensor(a, dtype), cx.tensor(b, dtype)


def matmul(cx: Emitter, a, b) -> Traced:
    x, y = _operands(cx, a, b)
    if x.ndim == 0 or y.ndim == 0:
        raise FrontendError("matmul: input operand does not have enough dimensions "
                            "(use * for scalars)")
    inner = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if x.shape[-1] != inner:    # (NumPy's words, before a 1-d operand becomes a row or column)
        raise FrontendError(f"matmul: inner dimensions differ: {x.shape} @ {y.shape} (size "
                            f"{inner} is different from {x.shape[-1]})")
    if x.ndim == 1 and y.ndim == 1:
        return _vecdot(cx, x, y)
    xv = x.value if x.ndim > 1 else cx.op("reshape", x.value, shape=(1,) + x.shape)
    yv = y.value if y.ndim > 1 else cx.op("reshape", y.value, shape=y.shape + (1,))
    v = cx.op("matmul", xv, yv)
    if x.ndim == 1 or y.ndim == 1:
        shape = v.type.shape[:-2] + (() if x.ndim == 1 else v.type.shape[-2:-1]) + \
            (() if y.ndim == 1 else v.type.shape[-1:])
        v = cx.op("reshape", v, shape=shape)
    return cx.wrap(v)


def _vecdot(cx, x: Traced, y: Traced, axis=0) -> Traced:
    """sum(x * y) along `axis` (x and y broadcast); for booleans whether any x and y are both
    true, as NumPy's dot of booleans."""
    if x.dtype == "bool":
        return any_all(cx, "any", cx.wrap(cx.op("logical_and", x.value, y.value)), axis)
    v = cx.op("sum", cx.op("mul", x.value, y.value), axes=(axis,), keepdims=False)
    return cx.wrap(cx.cast(v, x.dtype))     # sum widens int32 to int64; NumPy's dot keeps it


def dot(cx: Emitter, a, b) -> Traced:
    x, y = _operands(cx, a, b)
    if x.ndim == 0 or y.ndim == 0:
        return cx.wrap(cx.op("mul", x.value, y.value))
    if y.ndim <= 2:
        return matmul(cx, x, y)        # NumPy's dot equals matmul when b has rank <= 2
    # dot(a, b)[i.., k..] = sum_j a[i.., j] * b[k.., j, m]
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa = letters[:x.ndim]
    sb = letters[x.ndim:x.ndim + y.ndim - 2] + sa[-1] + letters[x.ndim + y.ndim - 2]
    out = sa[:-1] + sb[:-2] + sb[-1]
    return einsum(cx, f"{sa},{sb}->{out}", x, y)


def outer(cx: Emitter, a, b) -> Traced:
    x, y = _operands(cx, a, b)
    xv = cx.op("reshape", x.value, shape=(x.type.size, 1))
    yv = cx.op("reshape", y.value, shape=(1, y.type.size))
    return cx.wrap(cx.op("mul", xv, yv, hint="outer"))


def linalg_outer(cx: Emitter, x1, x2) -> Traced:
    """np.linalg.outer: np.outer of two 1-d arrays."""
    a, b = cx.tensor(x1), cx.tensor(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise FrontendError(f"Input arrays must be one-dimensional, but they are "
                            f"x1.ndim={a.ndim} and x2.ndim={b.ndim}.")
    return outer(cx, a, b)


def matrix_transpose(cx: Emitter, x) -> Traced:
    t = cx.tensor(x)
    if t.ndim < 2:
        raise FrontendError(f"Input array must be at least 2-dimensional, but it is {t.ndim}")
    return swapaxes(cx, t, -1, -2)


def vdot(cx: Emitter, a, b) -> Traced:
    """The dot product of the flattened arrays."""
    x, y = _operands(cx, a, b)
    if x.type.size != y.type.size:
        raise FrontendError(f"vdot: the arrays have {x.type.size} and {y.type.size} elements; "
                            "they must have as many")
    return _vecdot(cx, ravel(cx, x), ravel(cx, y))


def inner(cx: Emitter, a, b) -> Traced:
    """Sums over the last axes of a and b (a product for a scalar)."""
    x, y = _operands(cx, a, b)
    if x.ndim == 0 or y.ndim == 0:
        return cx.wrap(cx.op("mul" if x.dtype != "bool" else "logical_and", x.value, y.value))
    if x.shape[-1] != y.shape[-1]:
        raise FrontendError(f"inner: shapes {x.shape} and {y.shape}: last dimensions "
                            f"{x.shape[-1]} and {y.shape[-1]} do not match")
    if x.ndim == 1 and y.ndim == 1:
        return _vecdot(cx, x, y)
    return tensordot(cx, x, y, ((-1,), (-1,)))


def _core(name: str, signature: str, ts, ranks) -> None:
    for t, rank, what in zip(ts, ranks, ("x1", "x2"), strict=True):
        if t.ndim < rank:
            raise FrontendError(f"{name}: Input operand {what} does not have enough "
                                f"dimensions (has {t.ndim}, gufunc core with signature "
                                f"{signature} requires {rank})")


def matvec(cx: Emitter, x1, x2) -> Traced:
    """The gufunc (m,n),(n)->(m): matrices times vectors, batch axes broadcast."""
    x, y = _operands(cx, x1, x2)
    _core("matvec", "(m,n),(n)->(m)", (x, y), (2, 1))
    return squeeze(cx, matmul(cx, x, expand_dims(cx, y, -1)), -1)


def vecmat(cx: Emitter, x1, x2) -> Traced:
    """The gufunc (n),(n,m)->(m): vectors times matrices, batch axes broadcast."""
    x, y = _operands(cx, x1, x2)
    _core("vecmat", "(n),(n,m)->(m)", (x, y), (1, 2))
    return squeeze(cx, matmul(cx, expand_dims(cx, x, -2), y), -2)


def vecdot(cx: Emitter, x1, x2, axis=-1) -> Traced:
    """The gufunc (n),(n)->(): dot products along `axis` of both, other axes broadcast."""
    x, y = _operands(cx, x1, x2)
    _core("vecdot", "(n),(n)->()", (x, y), (1, 1))
    (ax,) = norm_axes((axis,), x.ndim)
    (ay,) = norm_axes((axis,), y.ndim)
    if x.shape[ax] != y.shape[ay]:
        raise FrontendError(f"vecdot: core dimension n has sizes {x.shape[ax]} and "
                            f"{y.shape[ay]} in the two operands")
    # the core axis last in both, so the other axes broadcast as NumPy's loop axes
    x, y = swapaxes(cx, x, ax, -1), swapaxes(cx, y, ay, -1)
    return _vecdot(cx, x, y, -1 % max(x.ndim, y.ndim))


def tensordot(cx: Emitter, a, b, axes=2) -> Traced:
    """Sum over a's axes `axes[0]` and b's `axes[1]` (an int n: a's last n and b's first n);
    the result has a's other axes, then b's."""
    x, y = _operands(cx, a, b)
    if isinstance(axes, np.ndarray) and axes.ndim:     # (NumPy takes an array of the pair)
        axes = axes.tolist()
    if isinstance(axes, (tuple, list)):
        if len(axes) != 2:
            raise FrontendError("tensordot: axes must be an int or a pair of sequences of axes")
        ax_a, ax_b = static_ints(axes[0], "tensordot axes"), static_ints(axes[1], "tensordot axes")
    else:
        (n,) = static_ints(axes, "tensordot axes")
        if not 0 <= n <= min(x.ndim, y.ndim):
            raise FrontendError(f"tensordot: cannot sum over {n} axes of arrays of dimension "
                                f"{x.ndim} and {y.ndim}")
        ax_a, ax_b = tuple(range(x.ndim - n, x.ndim)), tuple(range(n))
    if len(ax_a) != len(ax_b):
        raise FrontendError(f"tensordot: shape-mismatch for sum ({len(ax_a)} axes of a, "
                            f"{len(ax_b)} of b)")
    ax_a, ax_b = norm_axes(ax_a, x.ndim), norm_axes(ax_b, y.ndim)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    sa, sb = letters[:x.ndim], list(letters[x.ndim:x.ndim + y.ndim])
    for p, q in zip(ax_a, ax_b, strict=True):
        if x.shape[p] != y.shape[q]:
            raise FrontendError(f"tensordot: shape-mismatch for sum (axis {p} of a has size "
                                f"{x.shape[p]}, axis {q} of b {y.shape[q]})")
        sb[q] = sa[p]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + \
        [c for j, c in enumerate(sb) if j not in ax_b]
    return einsum(cx, f"{sa},{''.join(sb)}->{''.join(out)}", x, y)


def _parse(subscripts, ranks) -> tuple:
    """(each operand's subscripts, the output's): an operand's
    ellipsis axes are the last of letters used nowhere else, right-aligned as NumPy broadcasts
    them; the implicit output is the ellipsis axes, then the indices used once in alphabetical
    order."""
    if not isinstance(subscripts, str):
        raise StaticNeeded("einsum subscripts must be a compile-time string")
    text = subscripts.replace(" ", "")
    lhs, arrow, out = text.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ranks):
        raise FrontendError(f"einsum: {len(ins)} operand subscripts for {len(ranks)} operands")
    if not arrow:
        named = lhs.replace("...", "").replace(",", "")
        out = "..." * ("..." in lhs) + "".join(sorted(c for c in set(named)
                                                       if named.count(c) == 1))
    widths = [rank - len(s.replace("...", "")) if "..." in s else 0
              for s, rank in zip(ins, ranks, strict=True)]
    if min(widths) < 0:
        raise FrontendError("einsum: an operand has more subscripts than dimensions")
    if max(widths) and "..." not in out:
        # (NumPy's ValueError: the ellipsis axes are not summed over)
        raise FrontendError("einsum: output has more dimensions than subscripts given, but no "
                            "'...' to broadcast the extra dimensions")
    free = [c for c in string.ascii_letters if c not in text]
    letters = "".join(free[:max(widths)])
    ins = [s.replace("...", letters[len(letters) - w:]) for s, w in zip(ins, widths)]
    out = out.replace("...", letters)
    if len(set(out)) != len(out) or set(out) - set("".join(ins)):
        raise FrontendError(f"einsum: bad output subscripts '{out}'")
    return ins, out


def _sublists(args) -> tuple:
    """np.einsum(a, [0, 1], b, [1, 2], [0, 2]), the interleaved form, as (subscripts,
    operands): label k is the letter NumPy gives it (0-25 'A'-'Z', 26-51 'a'-'z'), an
    Ellipsis '...'."""
    def text(labels):
        if isinstance(labels, Traced) or not isinstance(labels, (list, tuple, range)) or not all(
                x is Ellipsis or (type(x) is not bool and isinstance(x, numbers.Integral)
                                  and 0 <= x < 52) for x in labels):
            raise FrontendError(f"einsum: subscript labels are lists of ints 0-51 or ..., got "
                                f"{labels!r}")
        return "".join("..." if x is Ellipsis else string.ascii_uppercase[x] if x < 26
                       else string.ascii_lowercase[x - 26] for x in labels)
    operands, lists = args[0::2], [text(x) for x in args[1::2]]
    if len(args) % 2:       # a last list: the output's
        return ",".join(lists) + "->" + text(args[-1]), operands[:-1]
    return ",".join(lists), operands


def einsum(cx: Emitter, subscripts, *operands, optimize=False) -> Traced:
    """np.einsum (`optimize`, which orders the contractions, is taken and left aside: the
    pairs contract left to right)."""
    if not isinstance(subscripts, str):     # NumPy's test too
        subscripts, operands = _sublists((subscripts, *operands))
    if not operands:
        raise FrontendError("einsum needs at least one operand")
    dtype = common_dtype(*operands)
    ts = [cx.tensor(o, dtype) for o in operands]
    ins, out = _parse(subscripts, [t.ndim for t in ts])
    # an axis of size 1 broadcasts against its index's size elsewhere, as in NumPy (the
    # ellipsis axes', and any index's but one repeated within an operand: a diagonal's axes
    # must agree)
    full = {}
    for s, t in zip(ins, ts, strict=True):
        for c, n in zip(s, t.shape):
            if n != 1:
                full.setdefault(c, n)

    def broadcast(s, t):
        target = tuple(full.get(c, 1) if n == 1 and s.count(c) == 1 else n
                       for c, n in zip(s, t.shape))
        return t if len(s) != t.ndim or target == t.shape else broadcast_to(cx, t, target)
    ts = [broadcast(s, t) for s, t in zip(ins, ts, strict=True)]
    sizes = {}
    for s, t in zip(ins, ts, strict=True):
        if len(s) != t.ndim:
            raise FrontendError(f"einsum: '{s}' has {len(s)} indices for an operand of rank "
                                f"{t.ndim}")
        for c, n in zip(s, t.shape, strict=True):
            if sizes.setdefault(c, n) != n:
                raise FrontendError(f"einsum: index '{c}' has sizes {sizes[c]} and {n}")
    for k, (s, t) in enumerate(zip(ins, ts, strict=True)):
        ts[k], ins[k] = _diagonals(cx, t, s)
    acc, acc_s = ts[0], ins[0]
    for k in range(1, len(ts)):
        later = set(out).union(*ins[k + 1:])
        acc, acc_s = _pair(cx, acc, acc_s, ts[k], ins[k], later, sizes)
    acc, acc_s = _sum_out(cx, acc, acc_s, set(out))
    return transpose(cx, acc, tuple(acc_s.index(c) for c in out))


def _diagonals(cx, t: Traced, s: str):
    """An operand whose subscripts repeat an index as the diagonal over those axes, the index
    then last (once); einsum's diagonals are writeable views, as NumPy's."""
    for c in dict.fromkeys(s):
        while s.count(c) > 1:
            i = s.index(c)
            j = s.index(c, i + 1)
            t = diagonal_view(cx, t, 0, i, j)
            s = s[:i] + s[i + 1:j] + s[j + 1:] + c
    return t, s


def _sum_out(cx, t: Traced, s: str, keep: set):
    axes = tuple(i for i, c in enumerate(s) if c not in keep)
    if not axes:
        return t, s
    # einsum keeps the operands' dtype: a sum of int32 stays int32 (sum widens it to int64)
    # and one of booleans is their `or` (any), as NumPy's add of booleans
    if t.dtype == "bool":
        return any_all(cx, "any", t, axes), "".join(c for c in s if c in keep)
    v = cx.op("sum", t.value, axes=axes, keepdims=False)
    return cx.wrap(cx.cast(v, t.dtype)), "".join(c for c in s if c in keep)


def _pair(cx, a: Traced, sa: str, b: Traced, sb: str, later: set, sizes):
    """Contract two operands, keeping the indices in `later`; returns (result, its indices)."""
    a, sa = _sum_out(cx, a, sa, later | set(sb))
    b, sb = _sum_out(cx, b, sb, later | set(sa))
    batch = [c for c in sa if c in sb and c in later]
    contract = [c for c in sa if c in sb and c not in later]
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]

    def size(cs):
        n = 1
        for c in cs:
            n *= sizes[c]
        return n
    bshape = tuple(sizes[c] for c in batch)
    a2 = transpose(cx, a, tuple(sa.index(c) for c in batch + free_a + contract))
    a2 = reshape(cx, a2, bshape + (size(free_a), size(contract)))
    b2 = transpose(cx, b, tuple(sb.index(c) for c in batch + contract + free_b))
    b2 = reshape(cx, b2, bshape + (size(contract), size(free_b)))
    v = cx.wrap(cx.op("matmul", a2.value, b2.value, hint="einsum"))
    res_s = "".join(batch + free_a + free_b)
    return reshape(cx, v, tuple(sizes[c] for c in res_s)), res_s


def _lapack(cx: Emitter, name: str, *arrays, square=True) -> list[Traced]:
    """The operands of np.linalg.<name> in NumPy's common dtype; the first must be a stack of
    (`square`) matrices."""
    ts = [cx.tensor(x) for x in arrays]
    if any(t.dtype == "f16" for t in ts):
        raise FrontendError(f"np.linalg.{name}: array type float16 is unsupported in linalg")
    dtype = "f32" if all(t.dtype == "f32" for t in ts) else "f64"
    a = ts[0]
    if a.ndim < 2:
        raise FrontendError(f"np.linalg.{name}: {a.ndim}-dimensional array given; the array "
                            "must be at least two-dimensional")
    if square and a.shape[-1] != a.shape[-2]:
        raise FrontendError(f"np.linalg.{name}: the last 2 dimensions of the array must be "
                            f"square, got shape {a.shape}")
    return [cx.tensor(t, dtype) for t in ts]


def inv(cx: Emitter, a) -> Traced:
    (a,) = _lapack(cx, "inv", a)
    return cx.wrap(cx.op("inv", a.value))


def solve(cx: Emitter, a, b) -> Traced:
    a, b = _lapack(cx, "solve", a, b)
    n = a.shape[-1]
    if b.ndim == 1:     # one vector for every matrix of the stack: a one-column matrix
        if b.shape != (n,):
            raise FrontendError(f"np.linalg.solve: b of shape {b.shape} for matrices of "
                                f"shape {a.shape[-2:]}")
        x = cx.op("solve", a.value, cx.op("reshape", b.value, shape=(n, 1)))
        return cx.wrap(cx.op("reshape", x, shape=x.type.shape[:-1]))
    if b.ndim == 0 or b.shape[-2] != n:
        raise FrontendError(f"np.linalg.solve: b of shape {b.shape} for matrices of shape "
                            f"{a.shape[-2:]} (b is a vector (n,) or matrices (..., n, k))")
    return cx.wrap(cx.op("solve", a.value, b.value))


def det(cx: Emitter, a) -> Traced:
    (a,) = _lapack(cx, "det", a)
    return cx.wrap(cx.op("det", a.value))


def slogdet(cx: Emitter, a) -> tuple[Traced, Traced]:
    (a,) = _lapack(cx, "slogdet", a)
    return cx.wrap(cx.op("detsign", a.value, hint="sign")), \
        cx.wrap(cx.op("logabsdet", a.value))


def cholesky(cx: Emitter, a, upper=False) -> Traced:
    """Lower L with a = L L^T, from a's lower triangle; `upper`: L^T from a's upper one, which
    is the lower factor of a^T, transposed."""
    (a,) = _lapack(cx, "cholesky", a)
    if upper:
        a = swapaxes(cx, a, -1, -2)
    lower = cx.wrap(cx.op("cholesky", a.value))
    return swapaxes(cx, lower, -1, -2) if upper else lower


def _uplo(name: str, uplo) -> str:
    if isinstance(uplo, Traced):
        raise StaticNeeded(f"np.linalg.{name}'s UPLO must be a compile-time string")
    if not isinstance(uplo, str) or uplo.upper() not in ("L", "U"):    # NumPy's upper()
        raise FrontendError(f"np.linalg.{name}: UPLO argument must be 'L' or 'U', got {uplo!r}")
    return uplo.upper()


def eigh(cx: Emitter, a, UPLO="L") -> tuple[Traced, Traced]:
    """(ascending eigenvalues, eigenvectors as columns) of the symmetric matrix that a's
    triangle UPLO holds."""
    uplo = _uplo("eigh", UPLO)
    (a,) = _lapack(cx, "eigh", a)
    return cx.wrap(cx.op("eigh_values", a.value, uplo=uplo, hint="w")), \
        cx.wrap(cx.op("eigh_vectors", a.value, uplo=uplo, hint="v"))


def eigvalsh(cx: Emitter, a, UPLO="L") -> Traced:
    uplo = _uplo("eigvalsh", UPLO)
    (a,) = _lapack(cx, "eigvalsh", a)
    return cx.wrap(cx.op("eigh_values", a.value, uplo=uplo))


def _static_flag(name: str, what: str, value) -> bool:
    if isinstance(value, Traced):
        raise StaticNeeded(f"np.linalg.{name}'s {what} must be a compile-time value")
    return bool(value)


def _svd(cx: Emitter, a: Traced, part: str) -> Traced:
    """One part of a's reduced SVD: "values", "u" or "vt"."""
    return cx.wrap(cx.op(f"svd_{part}", a.value, hint={"values": "s"}.get(part, part)))


def svd(cx: Emitter, a, full_matrices=True, compute_uv=True, hermitian=False):
    """(U, S, Vh) with S descending, or S alone (`compute_uv=False`)."""
    full = _static_flag("svd", "full_matrices", full_matrices)
    uv = _static_flag("svd", "compute_uv", compute_uv)
    if _static_flag("svd", "hermitian", hermitian):
        raise FrontendError("np.linalg.svd: hermitian=True is not supported (it reads one "
                            "triangle, as eigh); pass hermitian=False, or use np.linalg.eigh")
    (a,) = _lapack(cx, "svd", a, square=False)
    s = _svd(cx, a, "values")
    if not uv:
        return s
    m, n = a.shape[-2:]
    if full and m != n:
        raise FrontendError(f"np.linalg.svd: full_matrices=True on a non-square {m} x {n} "
                            "matrix is not supported (the extra columns of U or Vh it adds "
                            "have no gradient); pass full_matrices=False for the reduced U "
                            "and Vh")
    return _svd(cx, a, "u"), s, _svd(cx, a, "vt")


def qr(cx: Emitter, a, mode="reduced"):
    """(Q, R), or R alone (mode='r'), of NumPy's Householder QR (R's diagonal may be
    negative, as LAPACK's)."""
    if isinstance(mode, Traced):
        raise StaticNeeded("np.linalg.qr's mode must be a compile-time string")
    if mode not in ("reduced", "complete", "r", "raw"):
        raise FrontendError(f"np.linalg.qr: Unrecognized mode '{mode}'")
    if mode == "raw":
        raise FrontendError("np.linalg.qr: mode='raw' (LAPACK's Householder reflectors) is not "
                            "supported; use mode='reduced' or 'r'")
    (a,) = _lapack(cx, "qr", a, square=False)
    m, n = a.shape[-2:]
    if mode == "complete" and m > n:
        raise FrontendError(f"np.linalg.qr: mode='complete' on a tall {m} x {n} matrix is not "
                            "supported (the extra columns of Q it adds have no gradient); pass "
                            "mode='reduced' for the reduced Q")
    r = cx.wrap(cx.op("qr_r", a.value, hint="r"))
    return r if mode == "r" else (cx.wrap(cx.op("qr_q", a.value, hint="q")), r)
