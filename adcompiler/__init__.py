"""adcompiler: source-to-source reverse-mode differentiation of Python/NumPy functions.

    trace(f, *args) -> IR Function        evaluate(ir_fn, *args) -> NumPy results
    adcompiler.ir.parse(text) -> Function
    grad, value_and_grad, vjp, check_grad, show (api.py); jacobian, hessian, jvp (jacobian.py)
"""
from . import ops  # noqa: F401  (fills the op registry)
from . import ir
from .errors import AdcompilerError, RecompileWarning, UnsupportedSyntax, TraceError
from .frontend import trace
from .runtime.evaluate import evaluate
from .api import grad, jit, show, value_and_grad, vjp
from .check import GradientCheckError, check_grad
from .jacobian import hessian, jacobian, jvp
from .runtime.nans import AssertionFailed, IndexOutOfBounds, LinAlgError, NaNError
from .frontend.signature import ReadOnlyArgument
from .ad.custom import custom_vjp, elementwise, stop_gradient, straight_through

__all__ = ["AdcompilerError", "AssertionFailed", "GradientCheckError", "IndexOutOfBounds",
           "LinAlgError", "NaNError", "ReadOnlyArgument", "RecompileWarning", "TraceError",
           "UnsupportedSyntax", "check_grad",
           "custom_vjp", "elementwise", "evaluate", "grad", "hessian", "ir", "jacobian", "jit", "jvp",
           "show", "stop_gradient",
           "straight_through", "trace", "value_and_grad", "vjp"]
