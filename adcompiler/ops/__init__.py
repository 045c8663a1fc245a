"""The op declarations. Importing this package fills the one registry (`adcompiler.ir.registry`).

One module per family: elementwise math (declared from SymPy), reductions, shape ops,
indexing, linear algebra, creation, control flow. Each op is declared exactly once: its shape
and dtype rule, its VJP (written with the IR builder) and its lowering per backend.
"""
from . import elementwise, reduce, shape, index, linalg, create, control, tape  # noqa: F401
