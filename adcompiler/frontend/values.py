"""Traced values and NumPy 2's dtype rules (NEP 50).

Contract:
- A `Traced` stands for a NumPy array or scalar known only at run time. It holds the `ir.Value`
  computing it and a `weak` flag: weak values behave as Python scalars do in NumPy 2 (a Python
  float argument, `x.item()`, a `range` index): they take the dtype of the array they meet
  (`f32_array * lr` stays f32). Everything else (arrays, NumPy scalars) is strong.
- A `Traced` is a mutable *holder*: in-place updates (`x[i] = v`, `x += v` on an array) rebind
  the holder to a new SSA value, so every name and container holding it sees the update, as with
  NumPy's aliasing. Earlier SSA values never change. Views are copies in the IR; those NumPy
  makes whatever the memory layout (basic slices, transposes, size-1 axes added or dropped) are
  linked to their base: writing into a view writes its base, and its base's other linked views
  are derived from the new value, as NumPy's share its memory. A reshape or ravel is linked
  where the base's memory layout is known (layout.py) and NumPy makes a view of it, and is a
  copy where NumPy copies; of an array whose layout is not known it is not linked: writing
  through it, or reading it after its base was written, would differ from NumPy for one
  layout or the other, so those holders are marked stale and reading them is an error.
  A holder NumPy makes read-only (np.diagonal's view) has `readonly` set to the reason: writing
  into it, or into a view of it, is an error, as in NumPy.
  Holders that an `if` or loop on a run-time value may make one array (`o = y` in one branch,
  `o = 2 * y` in the other) `share`: an in-place change of one marks the other stale.
- While a region (a branch, a loop body) is traced, a `Journal` records the state of each holder
  made before it that the region changes, so the region's changes can be read off and undone:
  the `if` or loop op then yields those holders' new values and updates the holders themselves,
  so every name and container holding one sees the change, as in NumPy.
- Using a `Traced` where Python needs a concrete value (`float(x)` in foreign code, `if` on it in
  foreign code, as a dict key) raises `StaticNeeded`.
- `result_dtype(np_fn, *operands)` asks NumPy itself: it applies the real function to rank-0
  stand-ins (Python scalars for weak values and Python literals), so promotion, true division of
  integers, bool arithmetic and overflow checks are exactly NumPy's. For a ufunc on arrays and
  scalars the answer is remembered per operand dtypes (and integer values, which NumPy checks):
  unrolled code asks the same question thousands of times.
"""
from __future__ import annotations

import itertools
import linecache
import sys
import weakref
from contextlib import contextmanager

import numpy as np

from ..errors import where
from ..ir.types import DTYPES, TensorType
from .problems import FrontendError, StaticNeeded

NP_OF = {k: np.dtype(v) for k, v in DTYPES.items()}          # IR dtype -> np.dtype
IR_OF = {np.dtype(v): k for k, v in DTYPES.items()}          # np.dtype -> IR dtype
WEAK_DTYPES = ("f64", "i64", "bool")                          # dtypes a Python scalar maps to
# the Python ints each integer dtype holds (NumPy 2 refuses one beyond, where a cast wrapped)
INT_RANGE = {d: (int(np.iinfo(NP_OF[d]).min), int(np.iinfo(NP_OF[d]).max)) for d in ("i32", "i64")}


_SERIAL = itertools.count()      # creation order of holders: a region's own come after its start
_JOURNALS: list = []              # the journals of the regions being traced, innermost last


STALE = "this array cannot be read here: "     # a stale holder's message, before why


WRITTEN_THROUGH_VIEW = ("it was modified through a view of it that adcompiler does not write "
                        "through (a reshape, which NumPy makes a view or a copy as the memory "
                        "is laid out, or a diagonal); write through the original array instead")


MAY_BE_CHANGED = ("it may be the same array as one changed in place after an if or a loop on "
                  "a run-time value chose which array a name holds (call .copy() where one "
                  "is assigned the other)")


class Traced:
    __slots__ = ("_value", "weak", "nonneg", "base", "views", "shares", "stale", "stale_at",
                 "serial", "readonly", "norm", "link", "layout", "__weakref__")

    def __init__(self, value, weak: bool = False, nonneg: bool = False):
        self._value = value
        self.weak = weak and value.type.dtype in WEAK_DTYPES and value.type.rank == 0
        self.nonneg = nonneg          # known >= 0 (iota, loop index): no wrap-around needed
        self.base: Traced | None = None
        self.views: list = []         # weak references: a view nothing holds is gone
        self.shares: list[Traced] = []
        self.stale: str | None = None
        self.stale_at = None        # the loc of the write that made it stale, where known
        self.serial = next(_SERIAL)
        self.readonly: str | None = None
        # (S, c) where this is c sqrt(S), S a 2-norm's sum of squares (composites.norm): its
        # products with itself are c^2 S (arith.binary)
        self.norm: tuple | None = None
        # (derive: base's value -> this view's, write_back: (base's value, this view's new
        # value) -> base's new value) where NumPy's view shares its base's memory whatever the
        # layout: a write into either is seen in the other (Traced.update)
        self.link = None
        self.layout = None          # its memory layout where known (layout.py)

    @property
    def value(self):
        if self.stale:
            # (the read is the error's line; the write that made it stale is named too)
            raise FrontendError(self.stale + (f" (changed at {where(self.stale_at)}: "
                                              f"{linecache.getline(*self.stale_at[:2]).strip()})"
                                              if self.stale_at else ""))
        return self._value

    def update(self, value, keep=None) -> None:
        """Rebind this holder in place (`x[i] = v`). A linked view (one NumPy always makes: a
        basic slice, a transpose, size-1 axes added or dropped) writes into its base, and an
        array's linked views are derived again from its new value: each sees the other's
        changes, as in NumPy. Other views NumPy would share are invalidated. `keep`: the view
        written through, which holds its new value already."""
        if readonly_of(self):
            raise FrontendError(f"assignment destination is read-only: {readonly_of(self)}")
        base = self.base
        if self.link is not None and self.stale is None and base.stale is None \
                and not self.shares and any(v is self for v in base.live_views()):
            base.update(self.link[1](base._value, value), keep=self)
            self._set(value, keep)
            return
        for h in [self, *self.live_views(), *self.shares, *self.bases()]:
            h.touch()
        self._set(value, keep)
        if self.base is not None:
            self.base.views = [r for r in self.base.views if r() is not self]
        # the memory written: this array's bases (and so every other view of them), and the
        # arrays it may be, with their bases; then every array that may be one of those
        bases = self.bases()
        written = memory_of(self)[1:]
        at = getattr(value.owner, "loc", None)      # (the op that wrote, unless an argument)
        for h in written:
            h.invalidate(WRITTEN_THROUGH_VIEW if any(h is b for b in bases) else MAY_BE_CHANGED,
                         at)
        for other in [s for h in (self, *written) for s in h.shares if s is not self]:
            other.invalidate(MAY_BE_CHANGED, at)

    def _set(self, value, keep=None) -> None:
        """Hold `value`: linked views (but `keep`) are derived from it again, others are
        stale (they held the old value)."""
        self.touch()
        self._value = value
        self.weak = False
        self.nonneg = False
        self.norm = None
        views = []
        for view in self.live_views():
            if view is not keep and view.link is not None and view.stale is None:
                view._set(view.link[0](value))
            elif view is not keep:
                view.invalidate("it is a view of an array modified later (adcompiler copies "
                                "reshapes; call .copy() where the view is made)")
                continue
            views.append(weakref.ref(view))
        self.views = views

    def live_views(self) -> list:
        return [v for r in self.views if (v := r()) is not None]

    def invalidate(self, why: str, at=None) -> None:
        if self.stale is None:
            self.touch()
            self.stale, self.stale_at = STALE + why, at
        for view in self.live_views():
            view.invalidate(why, at)

    def stale_because(self, why: str) -> bool:
        """Whether this array is stale for `why` (WRITTEN_THROUGH_VIEW: a write through a view
        of it changed it; MAY_BE_CHANGED: an array it may be was changed in place)."""
        return bool(self.stale) and self.stale.endswith(why)

    def restale(self, stale: str | None, at=None) -> None:
        """Leave this array stale with `stale`, a message a region left on it (`at`: the write
        that left it), unless it is stale already or `stale` is None."""
        if stale and not self.stale:
            self.touch()
            self.stale, self.stale_at = stale, at

    def view_of(self, base: "Traced", link=None) -> "Traced":
        """Record that NumPy would make this a view of `base` (it is a copy in the IR); `link`
        (derive, write_back) where it always does, whatever the memory layout (see update)."""
        base.touch()
        self.base = base
        self.link = link
        base.views.append(weakref.ref(self))
        return self

    def bases(self) -> list:
        """The arrays this one is a view of, nearest first."""
        out, base = [], self.base
        while base is not None:
            out.append(base)
            base = base.base
        return out

    def share(self, other: "Traced") -> None:
        """Record that this holder and `other` may be one array in NumPy."""
        if other is not self and all(o is not other for o in self.shares):
            self.touch()
            other.touch()
            self.shares.append(other)
            other.shares.append(self)

    def touch(self) -> None:
        """Note this holder's state in each open journal it predates, before a change."""
        for journal in reversed(_JOURNALS):
            if self.serial >= journal.start or id(self) in journal.saved:
                break
            journal.saved[id(self)] = (self, self.state())

    def state(self) -> tuple:
        """(..., stale_at, stale): `stale` last."""
        return (self._value, self.weak, self.nonneg, self.base, list(self.views),
                list(self.shares), self.stale_at, self.stale)

    def set_state(self, state) -> None:
        (self._value, self.weak, self.nonneg, self.base, views, shares, self.stale_at,
         self.stale) = state
        self.views, self.shares = list(views), list(shares)

    # Python's own comparisons of these holders (`v in lst`, `lst.count(v)`, `[a] == [b]`)
    # would compare them by identity, not by the values they hold when the code runs
    def __eq__(self, other):
        if other is self:
            return True
        raise StaticNeeded("Python compares these run-time values here (`in` or `==` of lists "
                           "or tuples, .count, .index, .remove): compare arrays with NumPy "
                           "(np.any(np.stack(values) == v))")

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = object.__hash__

    @property
    def type(self) -> TensorType:
        return self._value.type

    @property
    def shape(self) -> tuple:
        return self._value.type.shape

    @property
    def dtype(self) -> str:
        return self._value.type.dtype

    @property
    def ndim(self) -> int:
        return self._value.type.rank

    @property
    def np_dtype(self):
        return NP_OF[self.dtype]

    def __repr__(self):
        return f"<traced {'weak ' if self.weak else ''}{self.type}>"

    # Python asking for a concrete value: the code needs a static value here.
    def _static(self, what):
        raise StaticNeeded(f"{what} needs a compile-time value, but this is a run-time array "
                           f"{self.type}")

    def __bool__(self):
        self._static("the truth value of an array in Python code adcompiler does not trace")

    def __float__(self):
        self._static("float()")

    def __int__(self):
        self._static("int()")

    def __index__(self):
        self._static("an index or size")

    def __len__(self):
        self._static("len()")

    def __iter__(self):
        self._static("iteration")

    def __array__(self, *a, **k):
        self._static("a function adcompiler does not trace (NumPy, SciPy or other code that "
                     "converts it to an array)")

    def __format__(self, spec):
        self._static("string formatting")

    __hash__ = object.__hash__


def is_traced(x) -> bool:
    return isinstance(x, Traced)


def is_static_scalar(x) -> bool:
    """Python bool/int/float or a NumPy scalar (static, usable as an array operand)."""
    return isinstance(x, (bool, int, float, np.generic)) and not isinstance(x, complex)


def v_shape(v) -> tuple:
    """The shape of a traced array, or NumPy's of a static value."""
    return v.shape if isinstance(v, Traced) else np.shape(v)


def is_python_scalar(x) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def ir_dtype(dt) -> str:
    """IR dtype name of a NumPy dtype; FrontendError for dtypes the IR lacks."""
    dt = np.dtype(dt)
    if dt == object:        # np.asarray of None, a string, an object
        raise FrontendError("an operand is neither a number nor an array (None, or another "
                            "object, where an array is wanted)")
    if dt not in IR_OF:
        raise FrontendError(f"dtype {dt} is not supported (use float64/32/16, int64/32 or bool)")
    return IR_OF[dt]


def dtype_arg(spec) -> str | None:
    """IR dtype of a user's dtype argument (np.float32, 'float32', float, x.dtype), or None."""
    if spec is None:
        return None
    try:
        return ir_dtype(np.dtype(spec))
    except TypeError:
        raise FrontendError(f"{spec!r} is not a dtype") from None


def stand_in(x):
    """A rank-0 object NumPy promotes exactly as it promotes `x`."""
    if isinstance(x, Traced):
        if x.weak:
            return {"f64": 1.0, "i64": 1, "bool": True}[x.dtype]
        return np.ones((), NP_OF[x.dtype])
    if isinstance(x, np.ndarray):
        return np.ones((), x.dtype)
    if isinstance(x, (list, tuple)):        # (np.result_type reads a list as a dtype spec)
        arr = static_array(x)
        if arr is not None:
            return np.ones((), arr.dtype)
    elif not is_static_scalar(x):
        refuse_sparse(x)
    return x


def _promotion_key(x):
    """All that NumPy's answer can depend on in operand `x`, as `stand_in` passes it on: the
    dtype and strength of an array; a NumPy or Python int's value too (it may overflow the
    other operand's dtype, or be a negative power of an integer); a Python bool's or float's
    type alone. None for anything else (a tuple: `(1, 0) == (True, False)`)."""
    if isinstance(x, Traced):
        return ("weak" if x.weak else "strong", x.dtype)
    if isinstance(x, np.ndarray):
        return ("strong", x.dtype)
    if isinstance(x, np.generic):
        return ("scalar", x.dtype, x.item() if x.dtype.kind in "iu" else None)
    if type(x) in (bool, float):
        return (type(x).__name__,)
    if type(x) is int:
        return ("int", x)
    return None


def result_dtype(np_fn, *operands, **kwargs) -> str:
    """IR dtype of `np_fn(*operands)` as NumPy computes it (NEP 50 weak Python scalars)."""
    keys = tuple(_promotion_key(x) for x in operands)
    if not isinstance(np_fn, np.ufunc) or kwargs or None in keys:
        return _result_dtype(np_fn, operands, kwargs)
    key = (np_fn, keys)
    if key not in _UFUNC_DTYPES:
        if len(_UFUNC_DTYPES) > 4096:       # many Python int values: start again
            _UFUNC_DTYPES.clear()
        _UFUNC_DTYPES[key] = _result_dtype(np_fn, operands, kwargs)
    return _UFUNC_DTYPES[key]


_UFUNC_DTYPES: dict = {}


def _result_dtype(np_fn, operands, kwargs) -> str:
    try:
        with np.errstate(all="ignore"):
            out = np_fn(*(stand_in(x) for x in operands), **kwargs)
    except (TypeError, ValueError, OverflowError) as e:
        raise FrontendError(f"NumPy rejects these operands: {e}") from None
    return ir_dtype(np.asarray(out).dtype)


def common_dtype(*operands) -> str:
    """np.result_type of the operands, Python scalars weak."""
    try:
        return ir_dtype(np.result_type(*(stand_in(x) for x in operands)))
    except (TypeError, ValueError, OverflowError) as e:
        raise FrontendError(f"no common dtype: {e}") from None


def numpy_subclass(x) -> str | None:
    """What to say of `x`, an array of a NumPy subclass that computes otherwise (the compiled
    code would drop a masked array's mask, and take a matrix's `*` for an elementwise
    product), else None."""
    if not isinstance(x, (np.matrix, np.ma.MaskedArray)):
        return None
    return (f"a {type(x).__module__}.{type(x).__qualname__}; adcompiler computes with plain "
            "NumPy arrays: pass " + ("np.ma.filled(it, fill)" if np.ma.isMaskedArray(x)
                                     else "np.asarray(it)"))


def sparse_matrix(x) -> str | None:
    """What to say of `x`, a scipy.sparse matrix or array (adcompiler computes with dense
    arrays), else None."""
    sparse = sys.modules.get("scipy.sparse")
    if sparse is None or not sparse.issparse(x):
        return None
    return (f"a scipy.sparse {type(x).__name__}; adcompiler computes with dense NumPy arrays: "
            "pass it.toarray(), or its COO arrays (it.tocoo(): row, col, data) and gather "
            "and np.add.at with them")


def refuse_sparse(x, what: str = "an operand") -> None:
    problem = sparse_matrix(x)
    if problem:
        raise FrontendError(f"{what} is {problem}")


def static_array(x) -> np.ndarray | None:
    """`x` as a NumPy array when it is static array data (a scalar, an ndarray, a nested list of
    numbers), else None."""
    if isinstance(x, np.ndarray) or is_static_scalar(x):
        problem = numpy_subclass(x)
        if problem:
            raise FrontendError(f"this constant is {problem}")
        return np.asarray(x)
    if isinstance(x, (list, tuple)) and not contains_traced(x):
        try:
            arr = np.asarray(x)
        except ValueError:
            return None
        return arr if arr.dtype != object else None
    refuse_sparse(x, "this constant")
    return None


def contains_traced(tree, seen=None) -> bool:
    """Does a value hold a Traced array: itself, or in its containers and pytree nodes (a
    model object, a dataclass instance), at any depth?"""
    if isinstance(tree, Traced):
        return True
    if isinstance(tree, (list, tuple, dict)):
        return any(contains_traced(v, seen) for v in (tree.values() if isinstance(tree, dict)
                                                         else tree))
    names = node_fields(tree)
    if names is None:
        return False
    seen = set() if seen is None else seen
    if id(tree) in seen:                # an object that refers back to one being looked at
        return False
    seen.add(id(tree))
    return any(contains_traced(getattr(tree, n), seen) for n in names)


def readonly_of(x) -> str | None:
    """Why NumPy refuses writes into `x` (it, or an array it is a view of, is read-only), or
    None. A holder an `if` or loop makes of several arrays takes it from any of them: whether
    NumPy refuses then depends on the run, so the write is an error."""
    if not isinstance(x, Traced):
        return None
    return next((h.readonly for h in (x, *x.bases()) if h.readonly), None)


def memory_of(x) -> list:
    """The holders whose memory `x` may be: itself, its bases, and the arrays it may be one
    with (`shares`) and their bases."""
    if not isinstance(x, Traced):
        return []
    chain = [x, *x.bases()]
    return chain + [y for h in chain for s in h.shares for y in (s, *s.bases())]


def overlap(a, b) -> bool:
    """Whether `a` and `b` may share memory: one of them, or an array it is a view of, is in
    the other's `memory_of` (not transitive: two arrays that each may be a third one do not)."""
    if not isinstance(a, Traced) or not isinstance(b, Traced):
        return False
    mem_a, mem_b = memory_of(a), memory_of(b)
    return any(h is m for h in (a, *a.bases()) for m in mem_b) or any(
        h is m for h in (b, *b.bases()) for m in mem_a)


def older_holders(x, start: int) -> list:
    """`memory_of(x)` made before serial `start`."""
    return [h for h in memory_of(x) if h.serial < start]


class Journal:
    """The holders made before a region that the region changed, with their state before
    (`saved`); `start` separates them from the region's own holders."""

    def __init__(self):
        self.start = next(_SERIAL)
        self.saved: dict = {}

    def changed(self) -> list:
        """[(holder, state before, state now)] for each holder the region changed."""
        return [(h, before, h.state()) for h, before in self.saved.values()]

    def undo(self) -> None:
        for h, before in self.saved.values():
            h.set_state(before)


@contextmanager
def journal():
    """Record the changes to older holders while a region is traced; undo them at the end
    (the caller reads `changed()` inside the block, and re-applies what the region's op
    makes of them)."""
    j = Journal()
    _JOURNALS.append(j)
    try:
        yield j
    finally:
        _JOURNALS.pop()
        j.undo()


from .pytree import node_fields  # noqa: E402  (pytree imports this module: last)
