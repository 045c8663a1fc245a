"""Specialisation of a traced function on its arguments, and the trace cache.

Contract:
- Arguments are bound to the function's parameters (`inspect.signature`). Each supplied
  argument is a pytree (nested tuples/lists/dicts); its leaves are run-time data when they are
  NumPy arrays, NumPy scalars or Python floats (weak f64[] scalars), and compile-time constants
  otherwise (ints, bools, strings, None, any hashable object). Parameters left to their
  defaults are compile-time constants: the default objects themselves, whose entries and
  attributes the trace reads are watched as a global's are (outside.py).
- The specialisation key is the argument structure with its static values (typed, so 1, 1.0 and
  True differ) and the (dtype, shape, weak) of every run-time leaf; `trace` caches one IR
  function per (function, key).
- `Signature` is stored as `fn.meta["signature"]`: `flatten_args(args, kwargs)` gives the run-time
  leaves in parameter order as arrays of the traced dtypes (checking the arguments fit the
  specialisation), `unflatten_result(outputs)` rebuilds the function's return value (weak
  results as Python scalars, rank-0 results as NumPy scalars, as NumPy returns them).
- `written`: the leaves (indices into the flat leaves) of the arguments the function changes in
  place, and `rebound`: (leaf index, keys from the parameter name, weak) of the entries of
  argument dicts and lists it sets to other arrays; their new values are the function's last
  outputs, in that order. `unflatten_result` leaves them out; `write_back(args, kwargs, leaves,
  outputs)` copies the first into the caller's arrays and sets the second in the caller's
  containers, and returns the outputs, those that share memory with a changed argument copied
  first. A NumPy scalar argument is immutable: NumPy would rebind it inside the function, and
  so nothing changes for the caller.
- `split_outputs(written, rebound, outputs)`: (the return value's, the written arguments', the
  set entries') parts of a function's outputs; `Signature.returned(outputs)` the first.
"""
from __future__ import annotations

import copy
import inspect
import weakref

import numpy as np

from ..errors import TraceError
from ..ir.types import TensorType
from . import carry
from .pytree import flatten, leaf_paths, set_entry, typed_treedef, unflatten
from .values import NP_OF, IR_OF, Traced, numpy_subclass, sparse_matrix


def is_runtime_leaf(x) -> bool:
    return type(x) is np.ndarray or \
        isinstance(x, (np.ndarray, np.generic, float)) and not isinstance(x, bool)


def _argument_leaf(x) -> bool:
    """`is_runtime_leaf`, refusing another library's array (a torch tensor, a CuPy or JAX
    array), which would otherwise be a static value: compiled in as a constant, its later
    changes unseen."""
    if type(x) is np.ndarray:       # (most leaves: no subclass to look for)
        return True
    if is_runtime_leaf(x):
        problem = numpy_subclass(x)
        if problem:
            raise TraceError(f"it holds {problem}")
        return True
    if sparse_matrix(x):
        raise TraceError(f"it holds {sparse_matrix(x)}")
    if not isinstance(x, type) and (hasattr(x, "__array__") or hasattr(x, "__dlpack__")):
        kind = f"{type(x).__module__.split('.')[0]}.{type(x).__qualname__}"
        raise TraceError(f"it holds a {kind}; adcompiler takes NumPy arrays: pass "
                         "np.asarray(it) (a torch tensor's .numpy() shares its memory)")
    return False


class ReadOnlyArgument(TraceError, ValueError):
    """An argument the function changes in place is read-only (NumPy's ValueError)."""


def _path_of(arguments, leaf) -> str:
    """The readable name (`params.w`) of the run-time leaf `leaf` among the bound arguments."""
    for pname, value in arguments.items():
        found, treedef = flatten(value, is_runtime_leaf)
        for path, x in zip(leaf_paths(treedef, pname), found, strict=True):
            if x is leaf:
                return path
    return "an argument"


_OVERLAP_WORK = 10_000      # np.shares_memory's bound on its search, beyond which: shared


def _overlap(a, b) -> bool:
    """Do arrays a and b have an element in common? Exactly, not by the address ranges they
    span (disjoint column blocks of one matrix, or x[::2] and x[1::2], are separate arrays);
    where that takes too long to find out, assumed so."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return np.shares_memory(a, b, max_work=_OVERLAP_WORK)
    except np.exceptions.TooHardError:
        return True


class Signature:
    def __init__(self, pysig, name: str, prefix=(), keywords=None, fn=None):
        self.pysig = pysig
        self.name = name
        # the Python function, whose def line errors name; weakly: the trace cache keys its
        # entries by it weakly, and an entry holding it would keep it, and what it closes
        # over, for good
        self._fn = weakref.ref(fn) if fn is not None else None
        self.prefix = tuple(prefix)     # a bound method's `self`, a functools.partial's args
        self.keywords = dict(keywords or {})    # a functools.partial's keywords
        self.result = None          # the traced return value (Traced leaves are the outputs)
        self._result_split = None   # carry.split(result), made on the first unflatten_result
        self.written = ()           # leaves changed in place (their new values end the outputs)
        self.rebound = ()           # container entries set to other arrays (after those)
        self.returns_written = {}   # output k -> the leaf changed in place that it returns
        # the parameters' names when each may be passed by position (see `bind`), else None
        self._positional = tuple(pysig.parameters) if all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in pysig.parameters.values()) else None

    def for_caller(self, caller: "Signature") -> "Signature":
        """This traced signature with `caller`'s prefix and keywords: a trace serves every
        object of a class (a bound method's `self`) and every partial of a function, and each
        call binds, reads and changes its own."""
        if len(caller.prefix) == len(self.prefix) and all(
                a is b for a, b in zip(caller.prefix, self.prefix)) \
                and caller.keywords.keys() == self.keywords.keys() \
                and all(caller.keywords[k] is v for k, v in self.keywords.items()):
            return self
        if self._result_split is None:      # (split once, for every copy)
            self._result_split = carry.split(self.result)
        out = copy.copy(self)
        out.prefix, out.keywords = caller.prefix, caller.keywords
        return out

    @property
    def fn(self):
        return self._fn() if self._fn is not None else None

    def error(self, message: str) -> TraceError:
        """A TraceError about the arguments of a call, naming the function's def line (the
        traceback names the caller's)."""
        from .source import code_of
        if self.fn is None:
            return TraceError(message)
        try:
            code = code_of(self.fn)
            return TraceError(message, (code.filename, code.node.lineno))
        except TraceError:      # (no source: a lambda typed at the prompt, exec'd code)
            return TraceError(message, (self.fn.__code__.co_filename,
                                        self.fn.__code__.co_firstlineno))

    @property
    def params(self) -> list:
        """The parameters a caller passes (a bound method's `self` is not one)."""
        return list(self.pysig.parameters)[len(self.prefix):]

    def bind(self, args, kwargs):
        """A caller's arguments bound to the parameters (`self` first for a bound method)."""
        if not kwargs and not self.keywords and self._positional is not None \
                and len(self.prefix) + len(args) == len(self._positional):
            # every parameter passed by position: what pysig.bind would find, in a third of
            # its time (this runs on every call, twice)
            return inspect.BoundArguments(self.pysig, dict(zip(self._positional,
                                                                (*self.prefix, *args))))
        try:
            return self.pysig.bind(*self.prefix, *args, **{**self.keywords, **kwargs})
        except TypeError as e:
            raise self.error(f"{self.name}(): {e}") from None

    def describe(self, args, kwargs, params=True):
        """(params: name -> pytree with Spec leaves, runtime leaves, key); with
        params=False the first is name -> (leaves, treedef) of each argument passed, and its
        default value of each not passed (the key is enough to look up compiled code)."""
        bound = self.bind(args, kwargs)
        supplied = bound.arguments.keys()
        if len(supplied) != len(self.pysig.parameters):
            supplied = set(supplied)
            bound.apply_defaults()
        tree, leaves, key = {}, [], []
        for pname, value in bound.arguments.items():
            if pname not in supplied:
                tree[pname] = value
                key.append((pname, "default"))
                continue
            try:
                found, treedef = flatten(value, _argument_leaf)
            except TraceError as e:
                raise self.error(f"argument {pname} of {self.name}(): {e}") from None
            specs = [_spec(leaf) for leaf in found]
            bad = next((i for i, spec in enumerate(specs) if spec is None), None)
            if bad is not None:
                path = leaf_paths(treedef, pname)[bad]
                raise self.error(f"argument {path} has dtype {np.asarray(found[bad]).dtype}, "
                                 "which adcompiler does not support (float64/32/16, int64/32, "
                                 "bool)")
            typed = typed_treedef(treedef)
            try:
                hash(typed)
            except TypeError:
                raise self.error(f"argument {pname} holds an unhashable static value (static "
                                 "arguments are part of the specialisation key)") from None
            tree[pname] = unflatten(treedef, specs) if params else (found, treedef)
            leaves += found
            key.append((pname, typed, tuple(specs)))
        return tree, leaves, tuple(key)

    def flatten_args(self, args, kwargs=None):
        _, leaves, key = self.describe(args, kwargs or {}, params=False)
        return self.flatten_leaves(leaves, key)

    def flatten_leaves(self, leaves, key):
        """`flatten_args` for leaves and key that `describe` already gave."""
        if key != self.key:
            raise TraceError(f"the arguments do not match the signature {self.name} was traced "
                             "for (shapes, dtypes and static values must be the same; trace "
                             "again for new ones)")
        if self.written:
            self._check_no_aliases(leaves)
        specs = [s for part in key if len(part) == 3 for s in part[2]]
        return [x if type(x) is np.ndarray and x.dtype is NP_OF[s.type.dtype]
                else np.asarray(x, dtype=NP_OF[s.type.dtype])
                for x, s in zip(leaves, specs, strict=True)]

    def _check_no_aliases(self, leaves) -> None:
        """The function changes arguments in place, and was traced with each argument leaf its
        own array: a written leaf that shares memory with another leaf (`f(a, a)`, `{"w": a,
        "v": a}`, `f(a, a[1:])`) would make NumPy's result differ from the traced one."""
        arrays = [(i, x) for i, x in enumerate(leaves) if isinstance(x, np.ndarray) and x.size]
        for i in self.written:
            if not isinstance(leaves[i], np.ndarray):
                continue
            for j, x in arrays:
                if j != i and _overlap(leaves[i], x):
                    raise self.error(f"{self.name} changes an argument in place that shares "
                                     f"memory with another of its arguments (leaves {min(i, j)} "
                                     f"and {max(i, j)}); adcompiler traces each argument as its "
                                     "own array, so pass a copy")

    def write_back(self, args, kwargs, leaves, outputs, also=()):
        """Copy the new values of the arguments changed in place into the caller's arrays
        (`leaves`, as `describe` gave them); `outputs` are all the function's outputs, `also`
        more arrays returned with them (gradients). Returns (outputs, also), where any that
        share memory with a changed argument are copies taken before the change: a backend
        may return an argument itself for a value equal to it (`r = x.copy(); x += 1;
        return r`, or `x[:] = y` making y's new value x's old one). `args` and `kwargs` are the
        call's, whose containers get the entries the function set."""
        outputs, also = tuple(outputs), tuple(also)
        if not self.written and not self.rebound:
            return outputs, also
        arguments = self.bind(args, kwargs).arguments
        self._check_no_shared_containers(arguments)
        self._check_writeable(arguments, leaves)
        targets = [leaves[i] for i in self.written if isinstance(leaves[i], np.ndarray)]

        def detached(v):      # residuals may nest (a loop's stacked per-iteration values)
            if isinstance(v, (tuple, list)):
                return type(v)(map(detached, v))
            if isinstance(v, np.ndarray) and any(_overlap(v, t) for t in targets):
                return v.copy()
            return v
        outputs, also = tuple(map(detached, outputs)), tuple(map(detached, also))
        _, arrays, entries = split_outputs(self.written, self.rebound, outputs)
        for i, value in zip(self.written, arrays, strict=True):
            if isinstance(leaves[i], np.ndarray):
                np.copyto(leaves[i], value)
        for (_, keys, weak), value in zip(self.rebound, entries, strict=True):
            set_entry(arguments, keys, _as_numpy(value, weak))
        # `x += 1; return x` returns the caller's array itself, as NumPy does
        if self.returns_written:
            outputs = list(outputs)
            for k, i in self.returns_written.items():
                if isinstance(leaves[i], np.ndarray):
                    outputs[k] = leaves[i]
            outputs = tuple(outputs)
        return outputs, also

    def _check_writeable(self, arguments, leaves) -> None:
        """An argument changed in place must be writeable (NumPy: 'output array is
        read-only'); raised before anything is changed, naming the argument."""
        for i in self.written:
            leaf = leaves[i]
            if isinstance(leaf, np.ndarray) and not leaf.flags.writeable:
                raise ReadOnlyArgument(f"{self.name} changes {_path_of(arguments, leaf)} in "
                                       "place, but the array passed is read-only (a broadcast_to"
                                       " view, or one whose writeable flag is off): pass a copy")

    def _check_no_shared_containers(self, arguments) -> None:
        """The function changes its arguments, and was traced with each argument's dicts and
        lists its own: one the caller passes twice (`f(d, d)`, `{"a": l, "b": l}`) would have
        seen a change through the other name, so what was computed is not what Python
        computes. Raised before anything is changed or returned."""
        for first, second, *_ in carry.shared(dict(arguments)):
            container = arguments
            for k in first:
                container = container[k]
            raise TraceError(f"{self.name} changes its arguments and is given one "
                             f"{type(container).__name__} twice (in {first[0]} and {second[0]});"
                             " adcompiler traces each as its own, so pass a copy")

    def returned(self, outputs) -> tuple:
        """The return value's part of a function's results (or a call's outputs)."""
        return split_outputs(self.written, self.rebound, outputs)[0]

    def unflatten_result(self, outputs):
        outputs = self.returned(() if outputs is None else tuple(outputs))
        if self._result_split is None:
            self._result_split = carry.split(self.result)
        leaves, struct = self._result_split
        it = iter(outputs)
        # a static array returned is a copy per call, as the NumPy code making it would give:
        # a caller changing it must not change what the next call returns
        out = [_as_numpy(next(it), x.weak) if isinstance(x, Traced)
               else x.copy() if isinstance(x, np.ndarray) else x for x in leaves]
        if next(it, None) is not None:
            raise TraceError("more outputs than the traced function returns")
        return carry.build(struct, out)


_SPECS: dict = {}


def _spec(leaf):
    """The `Spec` of a run-time leaf, or None for an unsupported dtype. One Spec object per
    (dtype, shape, weak), made once and kept for the process (like the traces made for them):
    every call builds its key from them, and a new TensorType and Spec per leaf per call cost
    the tiny GPT's AdamW update (125 leaves) 1.5 ms of its 3.7 a step on a Zen 1 VM."""
    weak = type(leaf) is float         # a NumPy float64 is a float too, but strong (NEP 50)
    dtype = np.dtype(np.float64) if weak else leaf.dtype
    shape = () if weak else leaf.shape
    spec = _SPECS.get((dtype, shape, weak))
    if spec is None:
        from .interpreter import Spec
        if dtype not in IR_OF:
            return None
        spec = _SPECS.setdefault((dtype, shape, weak), Spec(TensorType(IR_OF[dtype], shape),
                                                            weak=weak))
    return spec


def split_outputs(written, rebound, outputs) -> tuple:
    """(return value's, new values of the `written` arguments, new `rebound` entries) of the
    outputs of a function traced with `write_back` (which end with the last two)."""
    n = len(outputs) - len(written) - len(rebound)
    return tuple(outputs[:n]), tuple(outputs[n:n + len(written)]), tuple(outputs[n + len(written):])


def _as_numpy(value, weak: bool):
    arr = np.asarray(value)
    if weak:
        return arr.item()
    return arr[()] if arr.ndim == 0 else writable(arr)


def writable(arr: np.ndarray) -> np.ndarray:
    """`arr`, or a copy where it is read-only (a constant result, such as zeros, is a
    broadcast view in generated code; NumPy's would be an array of its own)."""
    return arr if arr.flags.writeable else arr.copy()
