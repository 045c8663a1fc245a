"""The Numba backend's run-time matmul against NumPy's: every layout the batched GEMM reads in
place (strided head slices, transposes, broadcast batches, size-1 axes) and the ones it must
copy or hand to NumPy; and its scatter_add against np.add.at."""
import glob
import os
import threading
import time

import numpy as np
import pytest

from adcompiler.backends.numba_cpu import mkl, options, runtime as rt

RNG = np.random.default_rng(0)


def _mkl_installed() -> bool:
    return mkl._shared_library("mkl", "libmkl_rt.so") is not None


def _use_mkl(monkeypatch):
    """Products go to MKL for this test, also where the CPU's default is another BLAS."""
    monkeypatch.setattr(rt, "BLAS", "mkl")
    if mkl.LIB is None:
        monkeypatch.setitem(mkl.OPTIONS, "blas", "mkl")
        lib, omp = mkl._load(mkl.THREADS)
        if lib is None:
            pytest.skip("needs Intel MKL (the mkl package, installed on x86-64 Linux only)")
        monkeypatch.setattr(mkl, "LIB", lib)
        monkeypatch.setattr(mkl, "OMP", omp)


def _heads(b, t, h, hd, dtype):
    """q and k as the GPT model slices them out of one fused (B, T, 3, H, hd) array."""
    qkv = RNG.standard_normal((b, t, 3, h, hd)).astype(dtype).transpose(2, 0, 3, 1, 4)
    return qkv[0], qkv[1]


def _cases(dtype):
    q, k = _heads(4, 16, 3, 8, dtype)
    p = RNG.standard_normal((4, 3, 16, 16)).astype(dtype)
    yield "q @ k^T (strided views)", q, k.transpose(0, 1, 3, 2)
    yield "p @ v (strided v)", p, k
    yield "p^T @ q (transposed a)", p.transpose(0, 1, 3, 2), q
    yield "k^T @ p", k.transpose(0, 1, 3, 2), p
    yield "contiguous", np.ascontiguousarray(q), np.ascontiguousarray(k.transpose(0, 1, 3, 2))
    yield "broadcast batch of b", q, RNG.standard_normal((1, 3, 8, 5)).astype(dtype)
    yield "broadcast a over batch", RNG.standard_normal((16, 8)).astype(dtype), q.transpose(
        0, 1, 3, 2)
    yield "rank 3", RNG.standard_normal((12, 7, 5)).astype(dtype), \
        RNG.standard_normal((12, 5, 9)).astype(dtype)
    yield "rank 5", RNG.standard_normal((2, 3, 4, 6, 5)).astype(dtype), \
        RNG.standard_normal((2, 3, 4, 5, 7)).astype(dtype)
    yield "size-1 rows and columns", RNG.standard_normal((6, 4, 1, 5)).astype(dtype), \
        RNG.standard_normal((6, 4, 5, 1)).astype(dtype)
    yield "every other column (no unit stride)", \
        RNG.standard_normal((4, 3, 16, 16)).astype(dtype)[..., ::2], \
        RNG.standard_normal((4, 3, 8, 6)).astype(dtype)[:, :, :, ::-1]
    yield "2-d, split by rows", RNG.standard_normal((37, 5)).astype(dtype), \
        RNG.standard_normal((5, 29)).astype(dtype)
    yield "2-d transposed, split by columns", RNG.standard_normal((5, 7)).astype(dtype).T, \
        RNG.standard_normal((40, 5)).astype(dtype).T
    yield "inner size 1", RNG.standard_normal((5, 4, 7, 1)).astype(dtype), \
        RNG.standard_normal((5, 4, 1, 3)).astype(dtype)


@pytest.fixture(params=[("mkl", 2), ("openblas", 2), ("openblas", 1), ("numpy", 2)],
                ids=["MKL", "OpenBLAS on 2 threads", "OpenBLAS on 1 thread", "NumPy"])
def through_gemm(request, monkeypatch):
    """These products are small: make rt.matmul take its own GEMM path for them: MKL's
    (single and grouped batch calls), SciPy's OpenBLAS shared out over 2 threads (batches,
    or row/column blocks) and on one, and with NumPy's matmul for single products, the stacks
    of 4 or more on SciPy's OpenBLAS."""
    blas, threads = request.param
    if blas == "mkl":
        _use_mkl(monkeypatch)
    else:
        monkeypatch.setattr(mkl, "LIB", None)
        monkeypatch.setattr(rt, "BLAS", blas)
    monkeypatch.setattr(rt, "NUMPY_BELOW", 0)
    monkeypatch.setattr(rt, "THREADS", threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_matches_numpy(dtype, through_gemm):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, a, b in _cases(dtype):
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        for _ in range(2):      # the first call compiles on one thread, the next splits
            out = np.full(want.shape, np.nan, dtype)
            rt.matmul(a, b, out)
            np.testing.assert_allclose(out, want, rtol=tol, atol=tol, err_msg=name)


def test_matmul_into_a_strided_output(through_gemm):
    a = RNG.standard_normal((6, 4, 8, 5))
    b = RNG.standard_normal((6, 4, 5, 3))
    out = np.zeros((6, 4, 8, 6))[..., ::2]
    rt.matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


def _products_into_transposed_outputs():
    """Each output stored transposed (unit stride along its rows), as the memory planner lays
    out a value read only transposed: rt.matmul writes it through out^T = b^T @ a^T."""
    q, k = _heads(4, 16, 3, 8, np.float64)
    p = RNG.standard_normal((4, 3, 16, 16))
    for a, b in ((q.transpose(0, 1, 3, 2), p), (p, q), (RNG.standard_normal((9, 5)),
                                                      RNG.standard_normal((5, 7)))):
        out = np.swapaxes(np.full(a.shape[:-2] + (b.shape[-1], a.shape[-2]), np.nan), -1, -2)
        rt.matmul(a, b, out)
        np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


def test_matmul_into_a_transposed_output(through_gemm, monkeypatch):
    def numpy_matmul(a, b, out):    # (with the option numpy, where a single product goes)
        assert rt.BLAS == "numpy" and out.ndim == 2, "handed to NumPy's matmul, not the GEMM path"
        np.matmul(a, b, out=out)
    monkeypatch.setattr(rt, "_numpy_matmul", numpy_matmul)
    _products_into_transposed_outputs()


def test_a_stack_of_products_runs_on_the_backends_threads(monkeypatch):
    """With `blas` numpy, a stack of at least 2 x threads products does not go to NumPy's
    matmul, which runs it as one small GEMM after another on its BLAS threads, sleeping
    between them (4x slower); a single product does."""
    stacks = []

    def numpy_matmul(a, b, out):
        stacks.append(out.ndim > 2)
        np.matmul(a, b, out=out)
    monkeypatch.setattr(rt, "_numpy_matmul", numpy_matmul)
    monkeypatch.setattr(rt, "BLAS", "numpy")
    monkeypatch.setattr(rt, "THREADS", 2)
    monkeypatch.setattr(rt, "NUMPY_BELOW", 0)
    q, k = _heads(2, 16, 2, 8, np.float32)
    for a, b in ((q, k.transpose(0, 1, 3, 2)), (RNG.standard_normal((64, 8)),
                                                 RNG.standard_normal((8, 16)))):
        out = np.empty(a.shape[:-1] + b.shape[-1:], a.dtype)
        rt.matmul(a, b, out)
        np.testing.assert_allclose(out, np.matmul(a.astype(np.float64), b), rtol=1e-5,
                                   atol=1e-5)
    assert stacks == [False]


def test_matmul_into_a_transposed_output_on_numpy(monkeypatch):
    monkeypatch.setattr(rt, "BLAS", "numpy")
    _products_into_transposed_outputs()


def test_blas_default_follows_the_cpu(monkeypatch):
    """The skips of `_use_mkl` must not hide a loader that fails: by default products go to
    MKL exactly where its package is installed and the CPU is Intel's (elsewhere NumPy's
    matmul ran faster, see options.py), and where it is installed it loads."""
    if "ADCOMPILER_BLAS" in os.environ:
        pytest.skip("ADCOMPILER_BLAS chooses the BLAS instead of the default")
    intel = options.cpu_vendor() == "GenuineIntel"
    assert rt.BLAS == ("mkl" if intel else "numpy")
    assert (mkl.LIB is not None) == (_mkl_installed() and intel)
    if _mkl_installed():
        monkeypatch.setitem(mkl.OPTIONS, "blas", "mkl")
        assert mkl._load(mkl.THREADS)[0] is not None


def test_mkl_declines_sizes_over_its_32_bit_integers(monkeypatch):
    """A leading dimension of 2^31 elements does not fit MKL's ints: `gemm` says so (and
    runtime.matmul hands the product to NumPy) instead of passing a wrapped-around value."""
    _use_mkl(monkeypatch)
    x = np.zeros((2, 2), np.float32)
    huge = np.lib.stride_tricks.as_strided(x, (1, 1, 2, 2), (0, 0, 4 << 31, 4))  # never read
    out = np.zeros((1, 1, 2, 2), np.float32)
    assert mkl.gemm_call(huge, (ord("n"), 1 << 31), x.reshape(1, 1, 2, 2), (ord("n"), 2),
                         out) is None


def test_a_products_mkl_call_is_kept_for_its_layout_only(monkeypatch):
    """rt.matmul keeps a product's MKL call per layout of its arrays (addresses, shapes,
    strides, dtypes): new values in the same buffers, other views of them, another option and
    an operand that must be copied first (a copy is made anew each call) all multiply right."""
    _use_mkl(monkeypatch)
    monkeypatch.setattr(rt, "NUMPY_BELOW", 0)
    monkeypatch.setattr(rt, "_MKL_CALLS", {})
    a, b, square = np.empty((4, 6, 5)), np.empty((4, 5, 6)), np.empty((4, 5, 5))
    out, out_square = np.empty((4, 6, 6)), np.empty((4, 6, 5))
    every_other = np.empty((4, 6, 10))[..., ::2]     # no unit stride: BLAS cannot read it
    for step in range(3):
        for x in (a, b, square):
            x[...] = RNG.standard_normal(x.shape)
        every_other[...] = RNG.standard_normal(every_other.shape)
        products = [(a, b, out), (b.transpose(0, 2, 1), a.transpose(0, 2, 1), out),
                    (a, b[0], out), (a[0], b[1], out[2]), (every_other, b, out),
                    (a, b, out.transpose(0, 2, 1)), (a, square, out_square),
                    (a, square.transpose(0, 2, 1), out_square)]
        for x, y, o in products:
            rt.matmul(x, y, o)
            np.testing.assert_allclose(o, np.matmul(x, y), rtol=1e-12, atol=1e-12)
        monkeypatch.setattr(rt, "BLAS", "numpy" if step == 1 else "mkl")
    assert 0 < len(rt._MKL_CALLS) <= len(products) * 2


def test_mkl_threads_spin_after_small_products_only(monkeypatch):
    """After a product under `SPIN_BELOW` multiply-adds MKL's threads spin for 1 ms (the next
    one comes soon, and waking them costs more than a small product); after a big one they
    sleep at once, leaving the cores to the kernels."""
    _use_mkl(monkeypatch)
    if mkl._ENV_BLOCKTIME:
        pytest.skip("KMP_BLOCKTIME is set in the environment")
    small, big = np.ones((256, 256), np.float32), np.ones((1024, 512), np.float32)
    for _ in range(2):
        rt.matmul(big, big.T, np.empty((1024, 1024), np.float32))     # 2^29 multiply-adds
        assert mkl.OMP.kmp_get_blocktime() == 0
        rt.matmul(small, small, np.empty((256, 256), np.float32))     # 2^24: MKL, not NumPy
        assert mkl.OMP.kmp_get_blocktime() == 1


def _cpu_seconds_of_other_threads() -> float:
    """CPU time (user + system) that this process's threads other than this one have used."""
    total, me = 0, os.path.join("/proc/self/task", str(threading.get_native_id()))
    for task in glob.glob("/proc/self/task/*"):
        if task != me:
            with open(os.path.join(task, "stat")) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])      # utime, stime (stat's 14th, 15th)
    return total / os.sysconf("SC_CLK_TCK")


def test_numpys_blas_threads_sleep_soon_after_a_product(monkeypatch):
    """After a product NumPy's OpenBLAS threads go to sleep instead of spinning for ~0.1 s on
    the cores the next kernel wants (`runtime._short_numpy_blas_spin`)."""
    monkeypatch.setattr(rt, "BLAS", "numpy")       # the path that runs it, on any CPU
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        pytest.skip("OPENBLAS_THREAD_TIMEOUT is set: the user's spin is left alone")
    if not any(hasattr(lib, "blas_thread_shutdown_") for lib in rt._openblas_libs("numpy")) \
            or np.__config__.CONFIG["Build Dependencies"]["blas"]["name"] != "scipy-openblas":
        pytest.skip("needs NumPy's bundled OpenBLAS (a NumPy wheel)")
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux's per-thread CPU times (/proc/self/task)")
    a = np.ones((512, 512), np.float32)
    out = np.empty_like(a)
    rt.matmul(a, a, out)                # the first product NumPy runs shortens the spin
    np.testing.assert_array_equal(out, np.full_like(a, 512.0))
    for _ in range(3):
        np.matmul(a, a, out=out)
    before = _cpu_seconds_of_other_threads()
    time.sleep(0.3)
    assert _cpu_seconds_of_other_threads() - before < 0.03
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ


def test_scatter_add_adds_repeats_and_refuses_indices_out_of_bounds():
    """np.add.at's result, negative and repeated indices included; an index out of bounds is
    NumPy's IndexError, raised before anything is added."""
    rng = np.random.default_rng(0)
    out, v = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4, 2))
    idx = np.array([4, 0, 4, -1])
    want = out.copy()
    np.add.at(want, (slice(None), idx), v)
    rt.scatter_add(out, idx, v, 1)
    np.testing.assert_allclose(out, want)
    for bad in (5, -6):
        before = out.copy()
        with pytest.raises(IndexError, match="out of bounds for axis 1 with size 5"):
            rt.scatter_add(out, np.array([0, bad, 1, 2]), v, 1)
        np.testing.assert_array_equal(out, before)


TORCH_FIRST = """
import numpy as np
import torch
torch.ones(300, 300) @ torch.ones(300, 300)     # libgomp's threads started
import adcompiler
from adcompiler.backends.numba_cpu import mkl

def product(a, b):
    return a.T @ b

rng = np.random.default_rng(0)
x, v = rng.normal(size=(512, 64)), rng.normal(size=(512, 128))
f = adcompiler.jit(product, backend="numba")
print(mkl.LIB is not None, max(np.abs(f(x, v) - x.T @ v).max() for _ in range(5)))
"""


def test_products_are_right_with_pytorch_imported_first(tmp_path):
    """MKL's threads on libiomp5 beside PyTorch's libgomp computed wrong products (in most
    runs, most entries): they run on libgomp then."""
    import subprocess
    import sys
    pytest.importorskip("torch", reason="the case needs PyTorch (pip install torch)")
    script = tmp_path / "torch_first.py"
    script.write_text(TORCH_FIRST)
    for _ in range(3):
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             check=True).stdout.split()
        assert float(out[-1]) < 1e-9, out


def test_an_unknown_blas_choice_is_an_error(tmp_path):
    """ADCOMPILER_BLAS=bogus silently chose the OpenBLAS path."""
    import os
    import subprocess
    import sys
    script = tmp_path / "bogus_blas.py"
    script.write_text("import numpy as np\nimport adcompiler\n"
                      "adcompiler.grad(lambda x: np.sum(x * x), backend='numba')(np.ones(3))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, ADCOMPILER_BLAS="bogus"))
    assert done.returncode != 0
    assert "ADCOMPILER_BLAS='bogus' is not one of mkl, openblas, numpy" in done.stderr


def test_threads_that_find_a_function_hot_at_once_start_one_child(monkeypatch):
    """Each thread saw no child yet and started one; the others' None (one child at a time)
    overwrote the running child's handle, so its end was never seen and it was started
    again and again (a 4-thread RNN never ran compiled)."""
    import types
    from adcompiler.backends.numba_cpu import precompile
    child, started = object(), []

    def start(dispatcher, args):
        started.append(args)
        time.sleep(0.05)
        return child if len(started) == 1 else None     # (one child at a time)
    monkeypatch.setattr(precompile, "compile_aside", start)
    monkeypatch.setattr(precompile, "aside_status", lambda c: "running")
    files = types.SimpleNamespace(_index_path="/nonexistent/index.nbi")
    hot = rt.Compiled(types.SimpleNamespace(_cache=types.SimpleNamespace(_cache_file=files)))
    threads = [threading.Thread(target=hot._compiled_aside, args=((k,),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1 and hot.aside is child
