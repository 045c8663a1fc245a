"""Strings made from run-time values: an f-string or `str.format` whose fields hold traced
arrays, which `print` (pybuiltins.py) shows on every run.

Contract: `RuntimeText(template, operands)` is a `str.format` template (static text escaped,
one field per operand, with the f-string's conversion and format spec: `{!r:>8}`) and the
Traced values for its fields, in order. `fstring(parts)` builds one from an f-string's pieces,
`formatted(template, args, kwargs)` from `template.format(*args, **kwargs)`; both give a plain
str when no operand is traced. The print op formats the template with the operands' run-time
values (NumPy scalars and arrays, Python scalars where the function held one), so the text is
what Python would have printed. Any other use of such a string (a dict key, a file name, a
logger call) needs its characters while tracing, which it cannot give: an error says so.
"""
from __future__ import annotations

import string

from .problems import FrontendError, StaticNeeded
from .values import Traced

_CONVERSIONS = {-1: "", 115: "s", 114: "r", 97: "a"}    # ast.FormattedValue.conversion


class RuntimeText:
    def __init__(self, template: str, operands: list):
        self.template, self.operands = template, operands

    def __str__(self):
        # (StaticNeeded: a loop whose body needs it, `params[f"w{i}"]`, is unrolled instead)
        raise StaticNeeded("a string made from run-time values can only be printed (print(...) "
                           "in traced code shows it on every run); anything else needs a "
                           f"compile-time value, but this holds run-time arrays "
                           f"{', '.join(str(x.type) for x in self.operands)}")

    def __format__(self, spec):
        return str(self)

    def __hash__(self):         # (a dict key, a set member)
        return hash(str(self))

    def __repr__(self):
        return "<a string made from run-time values>"


def escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _field(conversion: str, spec: str) -> str:
    return "{" + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"


def fstring(parts) -> str | RuntimeText:
    """`parts`: static strings, and (value, conversion code, format spec) for each field."""
    template, static, operands = [], [], []
    for part in parts:
        if isinstance(part, str):
            template.append(escaped(part))
            static.append(part)
            continue
        value, conversion, spec = part
        if isinstance(spec, RuntimeText):
            raise FrontendError("an f-string's format spec must not depend on run-time values")
        if isinstance(value, Traced):
            template.append(_field(_CONVERSIONS[conversion], spec))
            operands.append(value)
        else:
            converted = {"": lambda v: v, "s": str, "r": repr,
                         "a": ascii}[_CONVERSIONS[conversion]](value)
            static.append(format(converted, spec))
            template.append(escaped(static[-1]))
    return RuntimeText("".join(template), operands) if operands else "".join(static)


def formatted(template: str, args, kwargs) -> RuntimeText:
    """`template.format(*args, **kwargs)` with traced values among the arguments (fields by
    position, automatic numbering or keyword; attributes and indices of a static argument)."""
    out, operands, auto = [], [], 0
    formatter = string.Formatter()
    for literal, name, spec, conversion in formatter.parse(template):
        out.append(escaped(literal))
        if name is None:
            continue
        if name == "":
            name, auto = str(auto), auto + 1
        value, _ = formatter.get_field(name, args, kwargs)
        if isinstance(value, Traced):
            out.append(_field(conversion or "", spec))
            operands.append(value)
        else:
            out.append(escaped(formatter.format_field(formatter.convert_field(value, conversion),
                                                      spec)))
    return RuntimeText("".join(out), operands)
