"""Structured control flow and calls. Their result types come from their regions or callee,
so the builder is given them explicitly; backends and passes handle these ops by name.

- `if %c` with regions (then, else), each ending in `yield`;
- `for %i in range(%n) carry(...)`: operands (trip count, initial carried values); one region
  with arguments (i64 index, carried values) ending in `yield` of the next carried values;
- `while carry(...)`: regions (cond, body); cond ends in `condition %p`, body in `yield`;
- `call @f(...)`: calls a function of the module; `return` ends a function. A call with a
  custom derivative, `call @f(...) {vjp=f_bwd, outputs=k}`: its first k results are the
  function's value, the rest residuals; AD calls `@f_bwd(residuals..., cotangents of the k
  outputs...)`, which returns one gradient per float operand.

And the two ops with effects, which no pass drops, merges or recomputes (`pure=False`): `assert`
(a user's assert on a run-time value) and `print` (a user's print of run-time values).
"""
from ..ir.types import TensorType
from .family import check, declare


def _explicit(types, attrs):
    raise ValueError("result types are given by the regions or the callee")


def _no_results(types, attrs):
    return []


declare("if", _explicit, arity=1, n_regions=2, kind="control")
declare("for", _explicit, n_regions=1, kind="control")
declare("while", _explicit, n_regions=2, kind="control")
declare("call", _explicit, attrs=("callee", "vjp", "outputs"), kind="call")
declare("yield", _no_results, kind="control")
declare("condition", _no_results, arity=1, kind="control")
declare("return", _no_results, kind="control")


def _assert(types, attrs):
    t, *values = types
    check(t.rank == 0 and t.dtype == "bool", f"an assertion tests a bool scalar, got {t}")
    check(len(attrs.get("python", ())) == len(values),
          "an assert needs one `python` flag per value of its message")
    return [t]


def _text(op, template, args) -> str:
    """The expression of `template.format(*values)` for the operands named `args`, each
    rank-0 one as a NumPy scalar (a 0-d array repr()s as `array(1.)`), or a Python scalar
    where the function held one (`float(s)`, a float argument): the text Python would have
    made (print's and an assert message's `{!s}`/`{!r}` fields)."""
    if not args:
        return repr(template.format())
    values = [(f"np.asarray({a}).item()" if python else f"np.asarray({a})[()]")
              if v.type.rank == 0 else a
              for a, v, python in zip(args, op.operands[-len(args):], op.attrs["python"],
                                      strict=True)]
    return f"{template!r}.format({', '.join(values)})"


def _raise_unless(op, args):
    message = _text(op, op.attrs["message"], args[1:]) if len(args) > 1 \
        else repr(op.attrs["message"])
    raise_line = f"    raise AssertionError({message})".replace("{", "{{").replace("}", "}}")
    return [f"if not {args[0]}:", raise_line, f"{{out}} = {args[0]}"]


# a user's assert on a run-time value; a message made from run-time values is a str.format
# template (`message`) of the operands after the first (`python` as print's)
declare("assert", _assert, attrs=("message", "python"), pure=False, nondiff=True,
        kind="check", lower={"numpy": _raise_unless, "numba": _raise_unless})


def _printed(types, attrs):
    check(len(attrs["python"]) == len(types), "print needs one `python` flag per operand")
    check(attrs["stream"] in ("stdout", "stderr"), f"print to {attrs['stream']!r}")
    return [TensorType("bool", ())]


def _print_lines(op, args):
    stream = ", file=__import__('sys').stderr" if op.attrs["stream"] == "stderr" else ""
    text = _text(op, op.attrs["format"], args)
    line = f"print({text}, end={op.attrs['end']!r}{stream}, flush={op.attrs['flush']})"
    return [line.replace("{", "{{").replace("}", "}}"), "{out} = np.True_"]


# a user's print(...) in traced code: prints on every run, its static parts written into
# `format` (str.format fields `{!s}` and `{!r}` for the operands; `python`: which operands
# the function held as Python scalars); the bool result is unused
declare("print", _printed, attrs=("format", "python", "end", "stream", "flush"), pure=False,
        nondiff=True, kind="check", lower={"numpy": _print_lines, "numba": _print_lines})
