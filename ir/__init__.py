"""adcompiler.ir: the typed SSA IR (pure data structures, no NumPy or Numba).

    Function/Block/Op/Value (core), TensorType (types), Builder (builder),
    print_function (printer), parse (parser), verify (verify), the op registry (registry).
"""
from .builder import Builder
from .core import Block, Function, Module, Op, Value
from .parser import IRParseError, parse
from .printer import print_function
from .types import DTYPES, TensorType
from .verify import VerifyError, verify

__all__ = ["Block", "Builder", "DTYPES", "Function", "IRParseError", "Module", "Op",
           "TensorType", "Value", "VerifyError", "parse", "print_function", "verify"]
