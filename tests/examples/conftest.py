"""Shared set-up for the example tests: examples/gpt and ../shared/bench on sys.path, the
backends to test (numpy always; numba when adcompiler has it), one BLAS thread."""
import ctypes
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPT_DIR = os.path.join(ROOT, "examples", "gpt")
BENCH_DIR = os.path.join(os.path.dirname(ROOT), "shared", "bench")
sys.path.insert(0, GPT_DIR)
if os.path.isdir(BENCH_DIR):
    sys.path.insert(0, BENCH_DIR)


def backends():
    from adcompiler.api import BACKENDS
    return [b for b in ("numpy", "numba") if b in BACKENDS]


@pytest.fixture(params=backends())
def backend(request):
    return request.param


@pytest.fixture
def gptconfig():
    return pytest.importorskip("gptconfig", reason="../shared/bench/gptconfig.py not found")


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """OpenBLAS with 2 threads on a 2-core machine that is also running something else makes
    these small matmuls 5-25x slower (threads spin waiting for a busy core; measured here),
    and the environment comes too late once NumPy is loaded. So set one thread through the
    loaded libraries (Linux; elsewhere the tests just run with the default)."""
    if not os.path.exists("/proc/self/maps"):
        return
    with open("/proc/self/maps") as f:
        libs = set(re.findall(r"\S*openblas\S*\.so\S*", f.read()))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(1)
                break
