"""adcompiler: source-to-source reverse-mode differentiation of Python/NumPy functions.

    trace(f, *args) -> IR Function        evaluate(ir_fn, *args) -> NumPy results
    adcompiler.ir.parse(text) -> Function
"""
from . import ops  # noqa: F401  (fills the op registry)
from . import ir
from .errors import AdcompilerError, UnsupportedSyntax, TraceError
from .frontend import trace
from .runtime.evaluate import evaluate

__all__ = ["AdcompilerError", "TraceError", "UnsupportedSyntax", "evaluate", "ir", "trace"]
