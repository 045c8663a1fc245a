"""The default backend of the test session is the NumPy reference (ADCOMPILER_BACKEND=numpy,
unless the environment says otherwise): the IR, frontend, transform and AD tests check the
transform through the readable reference, and compiling Numba kernels for each of their
hundreds of small functions would take most of CI's time. The Numba backend, the default for
users, runs the same programs from one corpus with `backend="numba"` (tests/backends), and
tests/backends/test_numba_corpus.py checks that it is the default without the variable.
Its programs' first calls wait for their kernels (ADCOMPILER_FIRST_CALLS=compile, unless the
environment says otherwise): a test's few calls would otherwise run the NumPy reference's code
while a child process compiles (tests/backends/test_numba_tier.py tests that)."""
import os

os.environ.setdefault("ADCOMPILER_BACKEND", "numpy")
os.environ.setdefault("ADCOMPILER_FIRST_CALLS", "compile")
