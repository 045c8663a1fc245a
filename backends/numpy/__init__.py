"""The NumPy backend: IR -> readable Python/NumPy source, compiled with `exec`.

The backend protocol (what `adcompiler.api` asks of every backend module):
- `compile_function(fn) -> callable`: a primal function; the callable takes the flat
  parameters and returns its result (a tuple when there are several);
- `AdjointProgram(adjoint, name)`: `.fwd(*args) -> (results, residuals)`,
  `.bwd(residuals, cotangents) -> gradients`, `.grad(*args) -> (results, gradients)` with a
  cotangent of 1 for each seeded result, `.source` (what `adjoint_source()` shows);
- `OPTIONS`: the settings a program is built with (a dict; a program built is kept for the
  function and these settings). This backend has none.
"""
from .codegen import compile_function, generate
from .program import NumpyProgram as AdjointProgram

OPTIONS: dict = {}

__all__ = ["AdjointProgram", "OPTIONS", "compile_function", "generate"]
