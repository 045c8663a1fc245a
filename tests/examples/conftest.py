"""Shared set-up for the example tests: examples/gpt and ../shared/bench on sys.path, the
backends to test (numpy always; numba when adcompiler has it), tiny shapes."""
import os
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
