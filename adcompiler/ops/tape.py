"""Tapes: the stacks on which a loop's forward sweep leaves the state of each iteration for the
reverse sweep. A tape of `f64[8]` elements has type `f64[?,8]` (its length is the run-time
trip count).

- `tape_new {dtype, shape}`: an empty tape of elements of that type;
- `tape_push(t, x)`: the tape with x appended. Tapes are used linearly (each version once),
  so backends append in place;
- `tape_get(t, i)`: element i.
"""
from ..ir.types import DTYPES, DYNAMIC, TensorType
from .family import check, declare


def _new(types, attrs):
    return [TensorType(attrs["dtype"], (DYNAMIC,) + tuple(attrs["shape"]))]


def is_tape(t: TensorType) -> bool:
    return t.shape[:1] == (DYNAMIC,)


def _push(types, attrs):
    t, x = types
    check(is_tape(t) and t.with_shape(t.shape[1:]) == x,
          f"cannot push {x} onto a tape of {t}")
    return [t]


def _get(types, attrs):
    t, i = types
    check(is_tape(t), f"{t} is not a tape")
    check(i.rank == 0 and i.dtype in ("i64", "i32"), f"index must be an integer scalar, got {i}")
    return [t.with_shape(t.shape[1:])]


TAPE = dict(kind="tape", nondiff=True)
def _numba_new(op, args):
    # a list, which a loop compiled whole (backends/numba_cpu/loops.py) makes a typed list
    return f"rt.new_tape(np.{DTYPES[op.attrs['dtype']]}, {len(op.attrs['shape'])})"


# fresh: two empty tapes must never be merged into one list by CSE (an unused one is dropped)
declare("tape_new", _new, attrs=("dtype", "shape"), arity=0, fresh=True,
        lower={"numpy": "[]", "numba": _numba_new}, **TAPE)
declare("tape_push", _push, arity=2,
        lower={"numpy": lambda op, a: [f"{a[0]}.append({a[1]})", f"{{out}} = {a[0]}"],
               "numba": lambda op, a: [f"{a[0]}.append({a[1]})", f"{{out}} = {a[0]}"]}, **TAPE)
declare("tape_get", _get, arity=2, lower={"numpy": "{0}[{1}]", "numba": "{0}[{1}]"}, **TAPE)
