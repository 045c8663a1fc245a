"""How adcompiler's function objects (`grad`, `value_and_grad`, `jit`, `custom_vjp`,
`elementwise`) pickle and deep-copy: as what they are made of, never their compiled programs
(which hold code objects and modules; a process that unpickles one compiles again, or reads
the disk cache).

Contract: `reduced(obj, fun, args, state=None)` is `obj.__reduce__()`'s value. An object its
module holds under `fun`'s qualified name (a decorated module-level def: `@jit def f`, where
the module's `f` is the object, not `fun`) pickles by that name, as pickle takes functions;
any other is rebuilt as `type(obj)(*args)` with `state` set on it.
"""
from __future__ import annotations

import importlib
import sys


def reduced(obj, fun, args, state=None):
    module, name = getattr(fun, "__module__", None), getattr(fun, "__qualname__", "")
    if module in sys.modules and "<locals>" not in name and _named(module, name) is obj:
        return _named, (module, name)
    return type(obj), tuple(args), state


def _named(module: str, qualname: str):
    """The object `module` holds under the dotted `qualname` (None if none)."""
    obj = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj
