"""The Numba backend's vectorisable exp, expm1, tanh, log, log1p, sin and cos against NumPy
in float64 (itself within 1 ulp for float64 results, so float64 bounds allow 2), and expit
against SciPy's: error in ulp of the result's dtype over a dense range, also in loops compiled
with the kernels' `reassoc` flag and with all of fast math (the helpers keep their rounding),
and the special values (signed zeros, infinities, NaN, overflow and underflow) where they must
give what NumPy (SciPy) gives (float32 sin and cos: NaN beyond the range their reduction
covers; float64 sin and cos are libm's, NumPy's own). Also
the helpers' other types (NumPy's function), `ld0`, and the max/min reductions' `vmax`/`vmin`
against NumPy's np.max/np.min (NaNs anywhere in a row, infinities, integers, bools)."""
import functools
import platform
import re

import numba
import numpy as np
import pytest
from numba import njit
from scipy.special import expit

from adcompiler.backends.numba_cpu.mathlib import (SIN_MAX, fcos, fexp, fexpit, fexpm1, flog,
                                                   flog1p, fpow, fsin, ftanh, ld0, vmax, vmin)

FLAGS = {"plain": False, "reassoc": {"reassoc"}, "fastmath": True}


@functools.cache
def _loop(f, flags="plain"):
    @njit(fastmath=FLAGS[flags])    # not disk-cached: Numba would not see a mathlib change
    def loop(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return loop


_exp_loop, _tanh_loop, _log_loop, _log1p_loop, _expit_loop = (
    _loop(fexp), _loop(ftanh), _loop(flog), _loop(flog1p), _loop(fexpit))
_expm1_loop, _sin_loop, _cos_loop = _loop(fexpm1), _loop(fsin), _loop(fcos)


def _ulp_error(got, dtype, exact):
    exact = np.asarray(exact, np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def _grid(dtype, lo, hi):
    x = np.concatenate([np.linspace(lo, hi, 400_001), np.geomspace(1e-30, 1.0, 20_001),
                        -np.geomspace(1e-30, 1.0, 20_001)])
    return x.astype(dtype)


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e30, -1e30, -1e9, -800.0]


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype,lo,hi,bound", [(np.float32, -104.0, 89.0, 1.0),
                                               (np.float64, -745.0, 709.0, 2.0)])
def test_exp_is_within_its_ulp_bound(dtype, lo, hi, bound, flags):
    x = _grid(dtype, lo, hi)
    out = np.empty_like(x)
    _loop(fexp, flags)(x, out)
    exact = np.exp(x.astype(np.float64))
    normal = (exact < np.finfo(dtype).max) & (exact > np.finfo(dtype).tiny)
    assert _ulp_error(out[normal], dtype, exact[normal]).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    s = np.tile(np.array(SPECIAL, dtype), 8)       # in the vector lanes too, not only the tail
    got = np.empty_like(s)
    _loop(fexp, flags)(s, got)
    with np.errstate(over="ignore", under="ignore"):
        np.testing.assert_array_equal(got, np.exp(s))


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype,bound", [(np.float32, 2.0), (np.float64, 2.0)])
def test_tanh_is_within_its_ulp_bound(dtype, bound, flags):
    x = _grid(dtype, -20.0, 20.0)
    out = np.empty_like(x)
    _loop(ftanh, flags)(x, out)
    assert _ulp_error(out, dtype, np.tanh(x.astype(np.float64))).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    s = np.tile(np.array(SPECIAL, dtype), 8)       # in the vector lanes too, not only the tail
    got = np.empty_like(s)
    _loop(ftanh, flags)(s, got)
    np.testing.assert_array_equal(got, np.tanh(s))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.tanh(s)))


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype,lo,hi,bound", [(np.float32, -110.0, 100.0, 2.5),
                                               (np.float64, -750.0, 750.0, 4.0)])
def test_expit_is_within_its_ulp_bound(dtype, lo, hi, bound, flags):
    """Against SciPy's float64 expit (float32: SciPy's own is 2.1 ulp off); 0 and 1 where exp
    overflows, no NaN."""
    x = _grid(dtype, lo, hi)
    out = np.empty_like(x)
    _loop(fexpit, flags)(x, out)
    exact = expit(x.astype(np.float64))
    normal = exact > np.finfo(dtype).tiny
    assert _ulp_error(out[normal], dtype, exact[normal]).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    s = np.tile(np.array(SPECIAL, dtype), 8)
    got = np.empty_like(s)
    _loop(fexpit, flags)(s, got)
    np.testing.assert_array_equal(got, expit(s))


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype,lo,hi,bound", [(np.float32, -20.0, 89.0, 1.5),
                                               (np.float64, -40.0, 709.0, 2.5)])
def test_expm1_is_within_its_ulp_bound(dtype, lo, hi, bound, flags):
    """No cancellation near 0 (the grid's tiny arguments); -1, inf and NaN where NumPy gives
    them."""
    x = _grid(dtype, lo, hi)
    out = np.empty_like(x)
    _loop(fexpm1, flags)(x, out)
    exact = np.expm1(x.astype(np.float64))
    normal = (exact < np.finfo(dtype).max) & (np.abs(exact) > np.finfo(dtype).tiny)
    assert _ulp_error(out[normal], dtype, exact[normal]).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    s = np.tile(np.array(SPECIAL + [1e-30, -1e-30], dtype), 8)
    got = np.empty_like(s)
    _loop(fexpm1, flags)(s, got)
    with np.errstate(over="ignore"):
        want = np.expm1(s)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def _trig_grid(dtype):
    """Tiny, moderate, up to 1e4 and up to SIN_MAX, and the floats nearest multiples of pi/2
    with their neighbours (where the reduced argument is smallest)."""
    rng = np.random.default_rng(5)
    near = (rng.integers(-10**6, 10**6, 20_000) * (np.pi / 2)).astype(dtype)
    near = np.concatenate([near, np.nextafter(near, dtype(np.inf)),
                           np.nextafter(near, dtype(-np.inf))])
    return np.concatenate([_grid(dtype, -10.0, 10.0), np.linspace(-1e4, 1e4, 200_001),
                           rng.uniform(-SIN_MAX, SIN_MAX, 100_000), near]).astype(dtype)


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("fn,ref", [(fsin, np.sin), (fcos, np.cos)], ids=["sin", "cos"])
def test_float32_sin_and_cos_are_within_their_ulp_bound(fn, ref, flags):
    """Beyond SIN_MAX, where their reduction stops being exact, NaN (as for inf and NaN);
    sin keeps the sign of zero."""
    dtype, bound = np.float32, 1.0
    x = _trig_grid(dtype)
    out = np.empty_like(x)
    _loop(fn, flags)(x, out)
    exact = ref(x.astype(np.float64))
    normal = np.abs(exact) > np.finfo(dtype).tiny
    assert _ulp_error(out[normal], dtype, exact[normal]).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    top = SIN_MAX
    edge = [top * 0.999, -top * 0.999, top * 1.001, 1e7, 1e9, 1e-40, -1e-40, 1e-30, -1e-30]
    s = np.tile(np.array(SPECIAL + edge, dtype), 8)
    got = np.empty_like(s)
    _loop(fn, flags)(s, got)
    with np.errstate(invalid="ignore"):
        want = np.where(np.abs(s) < top, ref(s.astype(np.float64)), np.nan)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    numbers = ~np.isnan(want)
    assert _ulp_error(got[numbers], dtype, want[numbers]).max() <= bound
    np.testing.assert_array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))


@pytest.mark.parametrize("fn,ref", [(fsin, np.sin), (fcos, np.cos)], ids=["sin", "cos"])
def test_float64_sin_and_cos_are_numpys(fn, ref):
    """libm's, as NumPy's float64 np.sin and np.cos: every float64, 1e300 and the special values
    included (musl's fast reduction would hold to 1.6e6 only)."""
    x = np.concatenate([np.linspace(-1e4, 1e4, 10_001), [1.6e6, 1e9, -1.7e9, 1e300, 5e-324]
                        + SPECIAL])
    got = np.empty_like(x)
    _loop(fn)(x, got)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(got, ref(x))


def _log_grid(dtype, below_one):
    """Every binade above 0 (subnormals included), densely around 1 (where log is small), and
    for log1p also from -1 to 0 (tiny and near -1)."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):    # (geomspace's own arithmetic near float64's max)
        x = [np.geomspace(info.smallest_subnormal, info.max, 400_001),
             np.linspace(0.5, 3.0, 400_001)]
        if below_one:
            x += [-np.geomspace(info.smallest_subnormal, 1.0, 200_001),
                  np.linspace(-1.0, 0.5, 200_001)]
    x = np.concatenate(x).astype(dtype)
    return x[x > -1]


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype,bound", [(np.float32, 1.0), (np.float64, 2.0)])
@pytest.mark.parametrize("fn,ref", [(flog, np.log), (flog1p, np.log1p)], ids=["log", "log1p"])
def test_log_and_log1p_are_within_their_ulp_bound(fn, ref, dtype, bound, flags):
    x = _log_grid(dtype, below_one=fn is flog1p)
    out = np.empty_like(x)
    _loop(fn, flags)(x, out)
    assert _ulp_error(out, dtype, ref(x.astype(np.float64))).max() <= bound
    if flags == "fastmath":
        return          # fast math assumes no NaN nor infinity
    extra = [1.0, -1.0, -2.0, 1e-30, -1e-30, np.finfo(dtype).smallest_subnormal]
    s = np.tile(np.array(SPECIAL + extra, dtype), 8)
    got = np.empty_like(s)
    _loop(fn, flags)(s, got)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = ref(s)
    np.testing.assert_array_equal(got, want)
    numbers = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="reads x86 machine code")
@pytest.mark.parametrize("loop,dtype", [
    (loop, dtype) for loop in (_exp_loop, _tanh_loop, _log_loop, _log1p_loop, _expit_loop,
                               _expm1_loop, _sin_loop, _cos_loop)
    for dtype in (np.float32, np.float64)
    if dtype == np.float32 or loop not in (_sin_loop, _cos_loop)])   # float64: libm's
def test_loops_vectorise(loop, dtype):
    """The reason the helpers exist: a loop of them multiplies packed floats. A loop of libm's
    expf/tanhf does not (LLVM may wrap the call in a vector intrinsic, but the machine code
    then calls libm element by element)."""
    x = np.linspace(0.5, 3, 64, dtype=dtype)
    loop(x, np.empty_like(x))
    sig = next(s for s in loop.signatures if s[0].dtype == numba.from_dtype(dtype))
    asm = loop.inspect_asm(sig)
    # (float32 sin and cos compute in float64)
    single = dtype == np.float32 and loop not in (_sin_loop, _cos_loop)
    assert re.search(r"\bv?mulp" + ("s" if single else "d") + r"\b", asm)


def test_float32_exp_is_zero_exactly_where_the_rounded_exp_is():
    """Around ln(2^-150), where exp rounds to 0 or to the smallest subnormal: the result is
    exp correctly rounded (reducing 0 instead below the threshold must not cut in early)."""
    edge = np.float32(-103.97208)      # the float32 nearest ln(2^-150), just above it
    x = np.concatenate([np.linspace(-104.5, -102.5, 20_001, dtype=np.float32),
                        [edge, np.nextafter(edge, np.float32(-np.inf))]]).astype(np.float32)
    out = np.empty_like(x)
    _exp_loop(x, out)
    np.testing.assert_array_equal(out, np.exp(x.astype(np.longdouble)).astype(np.float32))


@njit
def _other(i, z):
    return (fexp(i), fexp(z), ftanh(i), ftanh(z), flog(i), flog(z), flog1p(i), flog1p(z),
            fexpm1(i), fsin(i), fsin(z), fcos(i), fcos(z))


def test_other_types_get_numpys_function():
    """(libm's, as Numba compiles NumPy's function: within an ulp or two of NumPy's own)"""
    z = 1.0 + 2.0j
    np.testing.assert_allclose(_other(3, z), (np.exp(3), np.exp(z), np.tanh(3), np.tanh(z),
                                              np.log(3), np.log(z), np.log1p(3), np.log1p(z),
                                              np.expm1(3), np.sin(3), np.sin(z), np.cos(3),
                                              np.cos(z)),
                               rtol=5e-16)


@njit
def _ld0(a, b, c, d, e):
    return ld0(a), ld0(b), ld0(c), ld0(d), ld0(e)


def test_ld0_reads_rank0_arrays_and_passes_scalars():
    raw = np.zeros(9, np.uint8)
    unaligned = np.ndarray((), np.float64, raw, offset=1)
    unaligned[()] = 2.5
    assert not unaligned.flags.aligned
    got = _ld0(np.array(1.5, np.float32), np.array(-7), np.array(True), unaligned, 4.0)
    assert got == (1.5, -7, True, 2.5, 4.0)
    assert type(got[2]) is bool
    # Numba types the unaligned array aligned: the load itself must not assume it
    llvm = _ld0.inspect_llvm(_ld0.signatures[0])
    assert re.search(r"load double, ptr %[\w.]+, align 1", llvm)


@njit
def _ld0_of(a):
    return ld0(a)


def test_ld0_refuses_arrays_of_rank_above_0():
    with pytest.raises(numba.core.errors.TypingError):
        _ld0_of(np.ones(2))


@functools.cache
def _row_extrema(flags="plain"):
    @njit(fastmath=FLAGS[flags])
    def rows(x, hi, lo):
        for r in range(x.shape[0]):
            a, b = x[r, 0], x[r, 0]
            for i in range(1, x.shape[1]):
                a, b = vmax(a, x[r, i]), vmin(b, x[r, i])
            hi[r], lo[r] = a, b
    return rows


def _rows_with_specials(dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 203)) * 50).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        for r, (i, v) in enumerate([(0, np.nan), (202, np.nan), (101, np.nan), (7, np.inf),
                                    (8, -np.inf), (0, np.inf), (202, -np.inf)]):
            x[r, i] = v
        x[10, :] = np.nan
        x[11, :] = -np.inf
        x[12, 5], x[12, 6] = np.nan, np.inf
    return x


@pytest.mark.parametrize("flags", ["plain", "reassoc"])     # (all of fast math assumes no NaN)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_vmax_vmin_reduce_like_numpy(dtype, flags):
    """Row maxima and minima by the kernels' accumulator update equal NumPy's, NaN wherever
    a row holds one (first, last, middle element, a whole row), also with the kernels'
    `reassoc` flag."""
    x = _rows_with_specials(dtype)
    hi, lo = np.empty(x.shape[0], dtype), np.empty(x.shape[0], dtype)
    _row_extrema(flags)(x, hi, lo)
    np.testing.assert_array_equal(hi, np.max(x, axis=1))
    np.testing.assert_array_equal(lo, np.min(x, axis=1))


@njit
def _mixed(i, f):
    return vmax(i, f), vmin(i, f), vmax(np.float32(2.5), np.float32(np.nan))


def test_vmax_vmin_of_mixed_types_promote():
    hi, lo, nan = _mixed(3, 2.5)
    assert (hi, lo) == (3.0, 2.5) and np.isnan(nan)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="reads x86 machine code")
def test_float32_max_reduction_vectorises():
    """Why vmax exists: the Python form of a NaN-propagating max compared one float at a time
    (vmaxss/vcmpss); vmax's reduction loop compares packed floats."""
    x = np.zeros((2, 64), np.float32)
    out = np.empty(2, np.float32)
    rows = _row_extrema("reassoc")
    rows(x, out, out.copy())
    sig = next(s for s in rows.signatures if s[0].dtype == numba.float32)
    assert re.search(r"\bv?maxps\b", rows.inspect_asm(sig))


@functools.cache
def _pow_loop(n, dtype):
    """(keyed by the dtype too: np.float32(0.5) == np.float64(0.5) as cache keys)"""
    n = dtype(n)

    @njit(fastmath={"reassoc"})
    def loop(x, out):
        for i in range(x.size):
            out[i] = fpow(x[i], n)      # n: a constant of the closure, as a kernel's K0
    return loop


POWERS = [2.0, 3.0, 4.0, -1.0, 0.5, 1.5, -2.5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", POWERS)
def test_pow_is_within_two_ulp_of_numpys(n, dtype):
    """x*x*x where NumPy takes libm's pow: within 2 ulp of the exact value; special values
    (signed zeros, infinities, NaN, overflow, underflow) exactly as NumPy gives them."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(100_000) * 10, rng.uniform(-2, 2, 100_000),
                        SPECIAL]).astype(dtype)
    out = np.empty_like(x)
    _pow_loop(n, dtype)(x, out)
    with np.errstate(all="ignore"):
        want = np.power(x, dtype(n))
        exact = np.power(x.astype(np.longdouble), np.longdouble(n))
    finite = np.isfinite(want) & (np.abs(exact) > np.finfo(dtype).tiny)
    assert _ulp_error(out[finite], dtype, exact[finite]).max() <= 2.0
    special = ~np.isfinite(want)
    np.testing.assert_array_equal(out[special], want[special])
    np.testing.assert_array_equal(np.signbit(out[want == 0]), np.signbit(want[want == 0]))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="reads x86 machine code")
def test_cube_is_multiplied_not_a_libm_call():
    x = np.linspace(0.5, 3, 64, dtype=np.float32)
    loop = _pow_loop(3.0, np.float32)
    loop(x, np.empty_like(x))
    asm = loop.inspect_asm(loop.signatures[0])
    assert re.search(r"\bv?mulps\b", asm) and not re.search(r"call.*pow", asm)


def periodic_features(t, w):
    phase = t[:, None] * w[None, :]
    return np.sum(np.sin(phase) + np.cos(phase))


def test_a_nan_of_the_kernels_own_is_an_error_not_a_value():
    """float32 sin and cos beyond SIN_MAX are NaN in the kernels, where NumPy gives a value:
    the NaN check reran NumPy's computation, found no NaN there, and returned the NaN."""
    import adcompiler
    t = np.array([1.7e9, 5e8, 1e6], np.float32)
    w = np.array([1.0, 0.5], np.float32)
    with pytest.raises(adcompiler.NaNError, match="Numba backend's result holds a NaN that "
                       "NumPy's computation of it does not.*float32 sin and cos of "
                       r"\|x\| above 4.2e8"):
        adcompiler.value_and_grad(periodic_features, wrt=1, backend="numba")(t, w)
    value = adcompiler.jit(periodic_features, backend="numba")(t[2:], w)      # below: values
    assert value == pytest.approx(periodic_features(t[2:], w), rel=1e-5)
