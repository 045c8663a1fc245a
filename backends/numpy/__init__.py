"""The NumPy backend: IR -> readable Python/NumPy source, compiled with `exec`."""
from .codegen import compile_function, generate

__all__ = ["compile_function", "generate"]
