"""All naming of values lives here: printed IR names, Python identifiers in generated code,
and the derived names of adjoints (`d_h`) and recomputed values (`h_r`).

Names come from hints (the user's variable names). `Namer` makes them unique within one
function, deterministically: the first `h` is `h`, the next `h_1`, then `h_2`, ...
"""
from __future__ import annotations

import keyword
import re

_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")
_NOT_IR_NAME = re.compile(r"[^0-9A-Za-z_.]")


def adjoint(hint: str) -> str:
    return "d_" + hint


def recomputed(hint: str) -> str:
    return hint + "_r"


def ir_name(hint: str) -> str:
    """A name the IR parser reads back (`%params.h0.w` keeps its dots; `x[0]` -> `x_0_`)."""
    return _NOT_IR_NAME.sub("_", hint) or "v"


# the frontend's own variables (exits.py's flags, loops.py's), named after the loop's line
_FLAGS = {"break": "broke", "continue": "continued", "return": "returned", "bound": "bound"}

# the module-level names generated Python code uses (NumPy, SciPy, the Numba driver's runtime
# and its buffer views, builtins): no function of a module is named so (ir.core.Module), nor
# a value (the code generators reserve them)
GENERATED_GLOBALS = ("np", "scipy", "rt", "B", "range", "print", "True", "False", "None")


def identifier(hint: str) -> str:
    """A Python identifier for a hint (`params.h0.w` -> `params_h0_w`; the frontend's
    `__break_6_4` flag of the loop at line 6 -> `broke_6_4`)."""
    if hint.startswith("__"):
        word, _, rest = hint[2:].partition("_")
        hint = _FLAGS.get(word, word) + ("_" + rest if rest else "")
    name = _NOT_IDENT.sub("_", hint) or "v"
    if name[0].isdigit():
        name = "v" + name
    return name + "_" if keyword.iskeyword(name) else name


class Namer:
    """`style` maps a hint to the name space's form: IR names keep hints as they are, Python
    code uses `identifier`."""

    def __init__(self, reserved=(), style=lambda hint: hint):
        self.names: dict[int, str] = {}      # id(Value) -> name
        self.taken: set[str] = set(reserved)
        self.style = style
        self._next: dict[str, int] = {}      # hint -> the first suffix not yet tried

    def __call__(self, value) -> str:
        key = id(value)
        if key not in self.names:
            self.names[key] = self.fresh(value.hint)
        return self.names[key]

    def bind(self, value, name: str) -> None:
        """Name `value` `name` (unique, not taken): a value another function names first, a
        residual the forward function returns and the backward one takes."""
        self.names[id(value)] = name
        self.taken.add(name)

    def fresh(self, hint: str) -> str:
        hint = self.style(hint)
        # names are never released, so the suffixes tried before are still taken: start after
        # them (a hint used thousands of times, an optimiser's `p`, is not rescanned each time)
        # an adjoint's copies are d_h__1, d_h__2: d_h_1 is the adjoint of the forward's h_1
        sep = "__" if hint.startswith("d_") else "_"
        k = self._next.get(hint, 0)
        name = f"{hint}{sep}{k}" if k else hint
        while name in self.taken:
            k += 1
            name = f"{hint}{sep}{k}"
        self.taken.add(name)
        self._next[hint] = k + 1
        return name
