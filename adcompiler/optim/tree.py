"""Parameter trees: nested dicts, lists, tuples and pytree nodes (named tuples, dataclass
instances, model objects: frontend/pytree.py) whose leaves are NumPy arrays.

    paths, leaves = flatten(tree)      leaves in a fixed order, each with a path "layers/0/fc_w"
    tree = unflatten(like, leaves)     the structure of `like`, with `leaves` in its places
    tree_zeros_like(tree)              zeros of each leaf's shape and dtype
    owners(leaves)                     each leaf's first place holding the same array object
    check_like(got, like, what, whose) an AdcompilerError unless `got` has `like`'s shape and
                                       dtype (a gradient or a moment of another one would
                                       broadcast or promote silently)

`None` is no leaf (an empty subtree, as in JAX): the gradient `grad` gives an integer leaf, an
optional bias left out; `unflatten` keeps it.

The order is deterministic: dict keys sorted (by type name, then value: keys of several types
are in one order too), lists, tuples and a node's fields in order. Paths
use "/" and name a leaf in a checkpoint (`.npz` keys) and in reports (per-layer gradient
norms). Inside a node, what is not a float array, a NumPy float or a container (a layer's
activation, its sizes, an integer buffer, a Python float such as a norm's eps) is not a leaf:
`unflatten` builds a new instance with it as it is in `like`, so the optimisers do not step it
(a learnable scalar is `np.float64(0.7)` or a 0-d array); elsewhere every value is a leaf (the
optimisers then refuse one that is not a float array).

One array object at several places (a tied weight, `model.head.w = model.emb.w`) is one
parameter to the optimisers (`owners`), as in PyTorch; `grad` still gives a gradient at each
place, as JAX does.
"""
from __future__ import annotations

import numpy as np

from ..errors import AdcompilerError
from ..frontend.pytree import make_node, node_fields


def flatten(tree, prefix: str = "") -> tuple[list[str], list[np.ndarray]]:
    paths: list[str] = []
    leaves: list[np.ndarray] = []
    _walk(tree, prefix, paths, leaves)
    if len(set(paths)) != len(paths):       # {"a/b": x, "a": {"b": y}}: one .npz key for two
        twice = sorted({q for q in paths if paths.count(q) > 1})
        raise ValueError(f"two leaves of the tree have the path {twice[0]!r} (a key with '/')")
    return paths, leaves


# Module functions, not closures that call themselves: such a closure is a reference cycle that
# keeps a step's arrays alive until the cyclic garbage collector runs (frontend/pytree.py).
def _walk(node, path, paths, leaves, in_node=False):
    if isinstance(node, np.ndarray):        # first: most nodes are leaves
        if not in_node or node.dtype.kind == "f":
            paths.append(path)
            leaves.append(node)
        return
    if isinstance(node, np.floating):       # a NumPy float: a run-time value, as in `grad`
        paths.append(path)
        leaves.append(node)
        return
    if node is None:
        return
    names = node_fields(node)
    if names is not None:
        items, in_node = [(k, getattr(node, k)) for k in names], True
    elif isinstance(node, dict):
        items = [(k, node[k]) for k in _sorted(node)]
    elif isinstance(node, (list, tuple)):
        items = list(enumerate(node))
    elif in_node:
        return                  # a node's value without arrays (an activation, a size)
    else:
        paths.append(path)
        leaves.append(node)
        return
    for k, x in items:
        _walk(x, f"{path}/{k}" if path else str(k), paths, leaves, in_node)


def unflatten(like, leaves):
    it = iter(leaves)
    out = _build(like, it)
    if next(it, None) is not None:
        raise ValueError("more leaves than the tree has places")
    return out


def _build(node, it, in_node=False):
    if isinstance(node, np.ndarray):
        return next(it) if not in_node or node.dtype.kind == "f" else node
    if isinstance(node, np.floating):
        return type(node)(next(it))         # (the update's 0-d array: a scalar again)
    names = node_fields(node)
    if names is not None:
        return make_node(type(node), {k: _build(getattr(node, k), it, True) for k in names})
    if isinstance(node, dict):
        built = {k: _build(node[k], it, in_node) for k in _sorted(node)}
        return {k: built[k] for k in node}          # the caller's key order
    if isinstance(node, (list, tuple)):
        return type(node)(_build(x, it, in_node) for x in node)
    return node if in_node or node is None else next(it)


def _sorted(keys) -> list:
    return sorted(keys, key=lambda k: (type(k).__name__, k))


def owners(leaves) -> list[int]:
    """For each leaf, the index of the first leaf that is the same array object (its own index
    when it is the first). Only arrays count: equal Python numbers may be one object."""
    first: dict[int, int] = {}
    return [first.setdefault(id(x), i) if isinstance(x, np.ndarray) else i
            for i, x in enumerate(leaves)]


def tree_zeros_like(tree):
    """Zeros like each leaf; a tied leaf's places share one array, as they share the leaf."""
    _, leaves = flatten(tree)
    zeros: list[np.ndarray] = []
    for i, o in enumerate(owners(leaves)):
        zeros.append(np.zeros_like(leaves[i]) if o == i else zeros[o])
    return unflatten(tree, zeros)


def check_like(got, like, what: str, whose: str) -> None:
    """See the module docstring: 'the {what} is float64[3], {whose} float32[3]'."""
    if got.shape != like.shape or got.dtype != like.dtype:
        raise AdcompilerError(f"the {what} is {got.dtype}{list(got.shape)}, {whose} "
                              f"{like.dtype}{list(like.shape)}")
