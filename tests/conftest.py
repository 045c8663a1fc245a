"""The default backend of the test session is the NumPy reference (ADCOMPILER_BACKEND=numpy,
unless the environment says otherwise): the IR, frontend, transform and AD tests check the
transform through the readable reference, and compiling Numba kernels for each of their
hundreds of small functions would take most of CI's time. The Numba backend, the default for
users, runs the same programs from one corpus with `backend="numba"` (tests/backends), and
tests/backends/test_numba_corpus.py checks that it is the default without the variable."""
import os

os.environ.setdefault("ADCOMPILER_BACKEND", "numpy")
