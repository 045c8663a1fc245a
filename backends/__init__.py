"""Backends lower IR to code: `numpy` (readable reference source), `numba_cpu`."""
