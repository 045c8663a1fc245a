"""Pytrees: nested tuples, lists, dicts, named tuples, dataclass instances and model objects
(instances of a user's class holding arrays) whose leaves are arrays or Python scalars.

`flatten(tree, is_leaf)` returns (leaves, treedef); `unflatten(treedef, leaves)` rebuilds the
tree. `is_leaf` is asked first, so it must be false for the containers. Leaves for which
`is_leaf` is false are static: kept inside the treedef (ints, bools, strings, None -
compile-time constants), so two trees with different static values have different treedefs.
Treedefs are hashable (part of the specialisation key). A named tuple or a dataclass instance
(all of whose fields its __init__ takes) is a node `("node", class, field names, children)`,
rebuilt as `class(**fields)` (a dataclass without its __init__, so without its __post_init__):
a gradient of one is one of its class, as in JAX. So is a model object, its attributes (its
`__dict__` in order, or its `__slots__`) being the fields, rebuilt without its __init__ as
well. A dict is `("dict", class, keys, children)`: one of a dict subclass (an OrderedDict) is
rebuilt as one of its class, the same way (`make_dict`). A loop's carried values compare
dicts by their keys only (frontend/carry.py: a body that builds a plain dict from an
OrderedDict passes its structure on).
"""
from __future__ import annotations

import dataclasses
import functools
import types

import numpy as np

from ..errors import TraceError
from .values import Traced


def _fields(cls) -> tuple | None:
    """The field names of a named tuple class or of a dataclass whose __init__ takes them all,
    else None."""
    if issubclass(cls, tuple):
        return getattr(cls, "_fields", None)
    if dataclasses.is_dataclass(cls) and all(f.init for f in dataclasses.fields(cls)):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def node_fields(x) -> tuple | None:
    """The field names of `x` when it is a node (a named tuple or dataclass instance, or a
    model object: see `is_model_object`), else None."""
    cls = type(x)
    if cls in _NEVER_NODES:     # (a leaf's type: ~0.1 us here, against ~1.3 to find out)
        return None
    names = _fields(cls)
    if names is None and is_model_object(x):
        names = tuple(attributes(x))
    elif names is None and (_library_class(cls) or issubclass(cls, type)):
        _NEVER_NODES.add(cls)
    return names


_NEVER_NODES: set = set()       # types whose instances are not nodes (NumPy's, Python's)


def _library_class(cls) -> bool:
    from .calls import library          # (calls imports this module)
    return cls is not types.SimpleNamespace and library(cls.__module__ or "")


def is_model_object(x, seen=None) -> bool:
    """Is `x` an instance of a class of the user's (not of a library) whose attributes hold an
    array (NumPy's or a traced one), directly or in containers or other such objects? Its
    attributes are then its fields, as a PyTorch module's parameters are found. (Decided by
    what it holds: a configuration object of numbers and strings stays a static value.) A
    dataclass with a field its __init__ does not take is one too."""
    attrs = attributes(x)
    if attrs is None or _library_class(type(x)) or isinstance(
            x, (type, types.FunctionType, types.MethodType, types.ModuleType, functools.partial)) \
            or isinstance(x, tuple) or dataclasses.is_dataclass(x) and _fields(type(x)):
        return False        # (a named tuple or a dataclass its __init__ rebuilds is a node)
    return _holds_array(attrs, set() if seen is None else seen)


def attributes(x) -> dict | None:
    """An object's attributes: its `__dict__`, or the `__slots__` it has set, else None."""
    own = getattr(x, "__dict__", None)
    if isinstance(own, dict):
        return own
    slots = [s for c in type(x).__mro__ for s in _slots(c)
             if s not in ("__dict__", "__weakref__") and hasattr(x, s)]
    return {s: getattr(x, s) for s in slots} if slots else None


def _slots(cls) -> tuple:
    slots = cls.__dict__.get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


_ATOMS = (int, float, complex, str, bytes, type(None), np.generic)


def _holds_array(x, seen) -> bool:
    if isinstance(x, (np.ndarray, Traced)):
        return True
    if isinstance(x, _ATOMS):           # (most of what a model holds: before the import)
        return False
    from .interpreter import Spec       # (a parameter's stand-in while tracing)
    if isinstance(x, Spec):
        return True
    if id(x) in seen:                   # an object that refers back to one being looked at
        return False
    seen.add(id(x))
    if isinstance(x, (list, tuple)):
        return any(_holds_array(v, seen) for v in x)
    if isinstance(x, dict):
        return any(_holds_array(v, seen) for v in x.values())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return any(_holds_array(getattr(x, f.name), seen) for f in dataclasses.fields(x))
    return is_model_object(x, seen)


def is_node_class(cls) -> bool:
    """Can traced code make an instance of `cls` holding run-time arrays natively: a node
    class without a __post_init__ (which would run on the traced values)?"""
    return _fields(cls) is not None and not hasattr(cls, "__post_init__")


def flatten(tree, is_leaf):
    leaves: list = []
    try:
        return leaves, _walk(tree, is_leaf, leaves)
    except RecursionError:
        raise TraceError("a value holds itself (a layer that refers back to its model, a list "
                         "that contains itself): adcompiler cannot take it apart into arrays; "
                         "keep the back reference out of the object") from None


# The recursions are module functions, not closures: a closure that calls itself is a reference
# cycle, which would keep the leaves (a step's arrays) alive until the cyclic garbage collector
# runs, and the backend could not reuse their memory (page faults every step).
def _walk(node, is_leaf, leaves):
    if is_leaf(node):       # first: most nodes are leaves
        leaves.append(node)
        return ("leaf",)
    if isinstance(node, tuple) and not hasattr(node, "_fields"):
        return ("tuple", tuple(_walk(x, is_leaf, leaves) for x in node))
    if isinstance(node, list):
        return ("list", tuple(_walk(x, is_leaf, leaves) for x in node))
    if isinstance(node, dict):
        keys = tuple(node)
        return ("dict", type(node), keys, tuple(_walk(node[k], is_leaf, leaves) for k in keys))
    names = node_fields(node)
    if names is not None:
        return ("node", type(node), names,
                tuple(_walk(getattr(node, k), is_leaf, leaves) for k in names))
    return ("static", node)


def typed_treedef(treedef):
    """A treedef with each static value's type next to it (1, 1.0 and True differ): part of a
    specialisation key."""
    kind = treedef[0]
    if kind == "static":
        return ("static", type(treedef[1]).__name__, treedef[1])
    if kind == "leaf":
        return treedef
    if kind in ("dict", "node"):
        return (*treedef[:-1], tuple(typed_treedef(c) for c in treedef[-1]))
    return (kind, tuple(typed_treedef(c) for c in treedef[1]))


def structure_difference(tree, other, path="") -> str | None:
    """Where `other` lacks `tree`'s containers and nodes (None: a place without float data,
    as a tangent or cotangent may leave it), said for a message; None where it has them."""
    if other is None:
        return None
    fields = node_fields(tree)
    if fields is not None:
        if type(other) is not type(tree):
            return f"{path or 'it'} is a {type(other).__name__}, not a {type(tree).__name__}"
        return _first(structure_difference(getattr(tree, f), getattr(other, f, None),
                                           f"{path}.{f}") for f in fields)
    if isinstance(tree, dict):
        if not isinstance(other, dict):
            return f"{path or 'it'} is a {type(other).__name__}, not a dict"
        if other.keys() != tree.keys():
            return (f"{path or 'it'} has keys "
                    f"{', '.join(map(repr, other))}, not {', '.join(map(repr, tree))}")
        return _first(structure_difference(tree[k], other[k], f"{path}[{k!r}]") for k in tree)
    if isinstance(tree, (list, tuple)):
        if not isinstance(other, (list, tuple)) or len(other) != len(tree):
            if not isinstance(other, (list, tuple)):
                return (f"{path or 'it'} is a {type(other).__name__}, not a "
                        f"{type(tree).__name__} of {len(tree)}")
            return f"{path or 'it'} has {len(other)} entries, not {len(tree)}"
        return _first(structure_difference(a, b, f"{path}[{k}]")
                      for k, (a, b) in enumerate(zip(tree, other)))
    return None


def _first(found):
    return next((d for d in found if d is not None), None)


def leaves_like(tree, other, is_leaf) -> list:
    """The entries of `other` (no `structure_difference` from `tree`) at the places of
    `tree`'s leaves, in `tree`'s order (a dict's keys in its order; None below a None)."""
    return [_entry(other, keys) for keys in leaf_keys(flatten(tree, is_leaf)[1])]


def _entry(root, keys):
    for k in keys:
        if root is None:
            break
        # (a namedtuple given where the tree has a plain tuple is read by position)
        if isinstance(root, dict) or isinstance(root, (list, tuple)) and isinstance(k, int):
            root = root[k]
        else:
            root = getattr(root, k, None)
    return root


def containers(tree) -> list:
    """The dicts, lists, tuples and nodes in `tree` (itself included), outermost first."""
    out, todo = [], [tree]
    while todo:
        x = todo.pop()
        names = node_fields(x) if not isinstance(x, (dict, list, tuple)) else None
        if isinstance(x, dict):
            todo += list(x.values())
        elif isinstance(x, (list, tuple)):
            todo += list(x)
        elif names is not None:
            todo += [getattr(x, k) for k in names]
        else:
            continue
        out.append(x)
    return out


def unflatten(treedef, leaves):
    it = iter(leaves)
    out = _build(treedef, it)
    if next(it, None) is not None:
        raise ValueError("more leaves than the tree has places")
    return out


def _build(td, it):
    kind = td[0]
    if kind == "leaf":
        return next(it)
    if kind == "static":
        return td[1]
    if kind == "tuple":
        return tuple(_build(c, it) for c in td[1])
    if kind == "list":
        return [_build(c, it) for c in td[1]]
    entries = {k: _build(c, it) for k, c in zip(td[2], td[3], strict=True)}
    if kind == "node":
        return make_node(td[1], entries)
    return entries if td[1] is dict else make_dict(td[1], entries)


def make_dict(cls, entries):
    """An instance of the dict subclass `cls` (an OrderedDict, a user's mapping class) holding
    `entries`, made without its __init__ as a node is (a defaultdict's has no default_factory);
    a plain dict where the class cannot be made so (its __new__ takes arguments, its update
    needs what its __init__ sets)."""
    try:
        out = cls.__new__(cls)
        out.update(entries)
    except Exception:   # (whatever the user's class raises)
        return entries
    return out


def make_node(cls, fields):
    """An instance of the node class `cls` holding `fields`. A dataclass's is made without
    its __init__: a __post_init__ would run again on what the fields now hold (a tracer's
    stand-ins, gradients), where the instance flattened had run it on its own values."""
    if issubclass(cls, tuple):
        return cls(**fields)
    # (types.SimpleNamespace refuses object.__new__: its own __new__ takes no arguments)
    obj = object.__new__(cls) if cls.__new__ is object.__new__ else cls.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)       # a frozen dataclass's __setattr__ refuses
    return obj


def leaf_keys(treedef) -> list:
    """The keys (dict keys, list and tuple positions) leading to each leaf, in flattening
    order: `tree[k0][k1]...` is the leaf."""
    out: list = []
    stack = [(treedef, ())]
    while stack:
        td, keys = stack.pop()
        kind = td[0]
        if kind == "leaf":
            out.append(keys)
        elif kind in ("tuple", "list"):
            stack.extend((c, keys + (i,)) for i, c in reversed(list(enumerate(td[1]))))
        elif kind in ("dict", "node"):
            stack.extend((c, keys + (k,)) for k, c in reversed(list(zip(td[-2], td[-1]))))
    return out


def _path(root, keys) -> list:
    """The containers from `root` down to the one holding the entry `keys` leads to."""
    path = [root]
    for k in keys[:-1]:
        path.append(getattr(path[-1], k) if node_fields(path[-1]) is not None else path[-1][k])
    return path


def holder(root, keys):
    """The container (dict, list or node) of the entry `keys` leads to from `root`."""
    return _path(root, keys)[-1]


def set_entry(root, keys, value) -> None:
    """root[keys[0]][keys[1]]... = value (`keys` as `leaf_keys` gives them, with a first key
    into `root`, a dict or list; a node's entries are its attributes). A model object's
    attribute is set on it, as traced code sets one (statements.store_attribute). An entry of
    a tuple, named tuple or dataclass instance is set by putting a copy of it with that entry
    replaced where it was (and so up to the nearest dict, list or model object): traced code
    cannot assign their attributes, so a function that rebound one put a new instance there
    (`p["q"] = p["q"]._replace(w=...)`), and the caller's old one stays as it was, as in
    Python (a named tuple's fields could not be set anyway)."""
    path = _path(root, keys)
    for container, k in zip(reversed(path), reversed(keys), strict=True):
        if type(container) is tuple:    # (states[0] = (h, c): a new tuple there, as in Python)
            value = tuple(value if i == k else e for i, e in enumerate(container))
            continue
        names = node_fields(container)
        if names is None:
            container[k] = value
            return
        if is_model_object(container):
            object.__setattr__(container, k, value)
            return
        value = make_node(type(container), {n: value if n == k else getattr(container, n)
                                        for n in names})
    raise TypeError("set_entry needs a dict or list at the root")


def leaf_paths(treedef, prefix: str):
    """Readable names of the leaves (`params.h0.w`, `xs.1`), in flattening order."""
    out: list[str] = []

    def walk(td, path):
        kind = td[0]
        if kind == "leaf":
            out.append(path)
        elif kind in ("tuple", "list"):
            for i, c in enumerate(td[1]):
                walk(c, f"{path}.{i}")
        elif kind in ("dict", "node"):
            for k, c in zip(td[-2], td[-1], strict=True):
                walk(c, f"{path}.{k}")

    walk(treedef, prefix)
    return out
