"""Strings made from run-time values (f-strings, str.format, %-formatting, str(), repr(),
format(), join, +), which `print` (pybuiltins.py) and an assert's message show on every run.

Contract: `RuntimeText(template, operands)` is a `str.format` template (static text escaped,
one field per operand, with the conversion and format spec that write the text Python would:
`{!r:>8}`) and the Traced values for its fields, in order. `fstring(parts)` builds one from an
f-string's pieces and `formatted(template, args, kwargs)` from `template.format(*args,
**kwargs)` (both a plain str when no operand is traced), `percent(template, values)` from
`template % values`, `converted` from str() or repr(), `formatted_value` from format(),
`joined` from `sep.join(items)`; `+` concatenates them with strings; `shown` gives the
template of any value (containers of run-time values by repr, as Python shows them). The
print and assert ops format the template with the operands' run-time values (NumPy scalars
and arrays, Python scalars where the function held one), so the text is what Python would
have made. Any other use of such a string (a dict key, len(), a logger call, a return value)
needs its characters while tracing, which it cannot give: an error says so.
"""
from __future__ import annotations

import re
import _string
import string

from .problems import FrontendError, StaticNeeded
from .values import Traced, contains_traced

_CONVERSIONS = {-1: "", 115: "s", 114: "r", 97: "a"}    # ast.FormattedValue.conversion


class RuntimeText:
    def __init__(self, template: str, operands: list):
        self.template, self.operands = template, operands

    def __str__(self):
        # (StaticNeeded: a loop whose body needs it, `params[f"w{i}"]`, is unrolled instead)
        raise StaticNeeded("a string made from run-time values can only be printed (print(...) "
                           "or an assert's message in traced code shows it on every run); "
                           "anything else needs a compile-time value, but this holds run-time "
                           f"arrays {', '.join(str(x.type) for x in self.operands)}")

    def __repr__(self):
        return "<a string made from run-time values>"

    def __add__(self, other):       # "loss " + str(s) + "!"
        if isinstance(other, RuntimeText):
            return RuntimeText(self.template + other.template, self.operands + other.operands)
        if isinstance(other, str):
            return RuntimeText(self.template + escaped(other), self.operands)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, str):
            return RuntimeText(escaped(other) + self.template, self.operands)
        return NotImplemented

    def __format__(self, spec):
        return str(self)

    def __hash__(self):             # (a dict key, a set member)
        return hash(str(self))

    def _refuse(self, *args):       # (len(text), text.upper(): the error above)
        return str(self)

    __mul__ = __rmul__ = __mod__ = __contains__ = __len__ = __iter__ = __getitem__ = _refuse
    # (the object's own == would be False for text equal when the code runs)
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return str(self)


def holds_text(x) -> bool:
    """Does `x` hold a RuntimeText (in containers, at any depth)?"""
    if isinstance(x, RuntimeText):
        return True
    if isinstance(x, (list, tuple)):
        return any(map(holds_text, x))
    return isinstance(x, dict) and any(map(holds_text, x.values()))


def converted(x, show) -> RuntimeText:
    """`str(x)` or `repr(x)` (`show`) of a value holding run-time arrays."""
    operands = []
    return RuntimeText(shown(x, operands, show), operands)


def formatted_value(x, spec: str) -> RuntimeText:
    """`format(x, spec)` of a run-time value."""
    if not isinstance(x, Traced):
        raise FrontendError("format() with a spec of a container of run-time values is not "
                            "supported; format its entries")
    return RuntimeText(_field("", spec), [x])


def joined(sep: str, items) -> RuntimeText:
    """`sep.join(items)`, some of them strings made from run-time values."""
    template, operands = [], []
    for item in items:
        if isinstance(item, RuntimeText):
            template.append(item.template)
            operands.extend(item.operands)
        else:
            template.append(escaped(item))
    return RuntimeText(escaped(sep).join(template), operands)


def escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def shown(x, operands: list, show=str) -> str:
    """The template of `x` as `show` (str, or repr inside a container) gives it, with a field
    for each run-time value in it (appended to `operands`): what print writes and an f-string
    field without a format spec holds."""
    if isinstance(x, Traced):
        operands.append(x)
        return "{!s}" if show is str else "{!r}"
    if isinstance(x, RuntimeText):
        operands.extend(x.operands)
        return x.template if show is str else "'" + x.template + "'"
    if not dynamic(x):
        return escaped(show(x))
    if type(x) is dict:
        return "{{" + ", ".join(shown(k, operands, repr) + ": " + shown(v, operands, repr)
                                for k, v in x.items()) + "}}"
    inner = ", ".join(shown(v, operands, repr) for v in x)
    if type(x) is list:
        return "[" + inner + "]"
    if type(x) is tuple:
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    raise FrontendError(f"text of a {type(x).__name__} holding run-time arrays is not "
                        "supported; show its fields")


def dynamic(x) -> bool:
    """Does `x` hold a run-time value or a string made from them?"""
    return holds_text(x) or contains_traced(x)


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
        field = _runtime_field(value, _CONVERSIONS[conversion], spec, operands)
        if field is not None:
            template.append(field)
        else:
            converted = {"": lambda v: v, "s": str, "r": repr,
                         "a": ascii}[_CONVERSIONS[conversion]](value)
            static.append(format(converted, spec))
            template.append(escaped(static[-1]))
    return RuntimeText("".join(template), operands) if operands else "".join(static)


def formatted(template: str, args, kwargs, subscript) -> RuntimeText:
    """`template.format(*args, **kwargs)` with traced values among the arguments (fields by
    position, automatic numbering or keyword; attributes and indices of an argument: a
    run-time array's entry `{0[1]}` is `subscript(array, 1)`)."""
    out, operands, auto = [], [], 0
    formatter = string.Formatter()
    for literal, name, spec, conversion in formatter.parse(template):
        out.append(escaped(literal))
        if name is None:
            continue
        if name == "" or name[0] in ".[":
            name, auto = str(auto) + name, auto + 1
        first, rest = _string.formatter_field_name_split(name)
        value = formatter.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            value = getattr(value, key) if is_attribute else \
                subscript(value, key) if isinstance(value, Traced) else value[key]
        field = _runtime_field(value, conversion or "", spec, operands)
        if field is not None:
            out.append(field)
        else:
            out.append(escaped(formatter.format_field(formatter.convert_field(value, conversion),
                                                      spec)))
    return RuntimeText("".join(out), operands)


_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?(?P<flags>[#0\- +]*)(?P<width>\d+)?"
                      r"(?:\.(?P<precision>\d+))?(?P<type>[diouxXeEfFgGsra%])")


def _runtime_field(value, conversion: str, spec: str, operands: list) -> str | None:
    """The template of a format field holding run-time values (appended to `operands`): a
    run-time value's field, or a container of them (or text made from them) as str() or
    repr() shows it; None for a static value."""
    if isinstance(value, Traced):
        operands.append(value)
        return _field(conversion, spec)
    if not dynamic(value):
        return None
    if spec:
        raise FrontendError("a format spec on a container of run-time values is not "
                            "supported; format its entries")
    return shown(value, operands, repr if conversion == "r" else str)


def percent(template: str, values) -> RuntimeText:
    """`template % values` (printf-style) with run-time values among `values`: each directive
    becomes the str.format field that writes the same text."""
    out, operands, pos, k = [], [], 0, 0
    given = values if isinstance(values, tuple) else (values,)
    for m in _PERCENT.finditer(template):
        out.append(escaped(template[pos:m.start()]))
        pos = m.end()
        if m["type"] == "%":
            out.append("%")
            continue
        if m["key"] is not None:
            value = values[m["key"]]
        else:
            if k >= len(given):
                raise FrontendError("not enough arguments for format string")
            value, k = given[k], k + 1
        if isinstance(value, Traced):
            out.append(_printf_field(m, value))
            operands.append(value)
        elif dynamic(value):            # %s / %r of a container of them, or of text made so
            plain = not (m["flags"] or m["width"] or m["precision"])
            if m["type"] not in "sr" or not plain:
                raise FrontendError(f"'%{m['type']}' with a width or flags of a container of "
                                    "run-time values is not supported; format its entries")
            out.append(shown(value, operands, repr if m["type"] == "r" else str))
        else:
            out.append(escaped(m.group() % (value,)) if m["key"] is None
                       else escaped(("%" + m.group()[len(m["key"]) + 3:]) % (value,)))
    if not isinstance(values, dict) and k != len(given):
        raise FrontendError("not all arguments converted during string formatting")
    out.append(escaped(template[pos:]))
    return RuntimeText("".join(out), operands)


def _printf_field(m, value) -> str:
    """The str.format field of one printf directive for a run-time value."""
    kind, flags = m["type"], m["flags"]
    width, precision = m["width"] or "", f".{m['precision']}" if m["precision"] else ""
    if kind in "sra":           # right-aligned by default, as printf pads
        align = ("<" if "-" in flags else ">") if width else ""
        return "{!" + kind + ":" + align + width + precision + "}" if align or precision \
            else "{!" + kind + "}"
    if kind in "diouxX" and value.dtype[0] == "f":
        raise FrontendError(f"%{kind} of a run-time float is not supported; write %.0f, or "
                            "int() the value")
    spec = ("<" if "-" in flags else "") + "".join(f for f in "+ " if f in flags) \
        + ("#" if "#" in flags else "") + ("0" if "0" in flags and "-" not in flags else "") \
        + width + precision + {"i": "d", "u": "d"}.get(kind, kind)
    return "{:" + spec + "}"
