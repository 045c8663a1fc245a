"""Parameter trees: nested dicts, lists and pytree nodes (named tuples, dataclass instances,
model objects: frontend/pytree.py) whose leaves are NumPy arrays.

    paths, leaves = flatten(tree)      leaves in a fixed order, each with a path "layers/0/fc_w"
    tree = unflatten(like, leaves)     the structure of `like`, with `leaves` in its places
    tree_zeros_like(tree)              zeros of each leaf's shape and dtype

The order is deterministic: dict keys sorted, lists and a node's fields in order. Paths use "/"
and name a leaf in a checkpoint (`.npz` keys) and in reports (per-layer gradient norms). A
node's fields that hold no array (a layer's activation, its sizes) are not leaves: `unflatten`
builds a new instance with them as they are in `like`. Plain tuples are not parameter
containers here (the optimisers take dicts and lists, as `init_params` builds them).
"""
from __future__ import annotations

import numpy as np

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
def _walk(node, path, paths, leaves):
    if isinstance(node, np.ndarray):        # first: most nodes are leaves
        paths.append(path)
        leaves.append(node)
    elif isinstance(node, dict):
        for k in sorted(node):
            _walk(node[k], f"{path}/{k}" if path else str(k), paths, leaves)
    elif isinstance(node, list):
        for i, x in enumerate(node):
            _walk(x, f"{path}/{i}" if path else str(i), paths, leaves)
    elif node_fields(node) is not None:
        for k in _array_fields(node):
            _walk(getattr(node, k), f"{path}/{k}" if path else k, paths, leaves)
    else:
        paths.append(path)
        leaves.append(node)


def unflatten(like, leaves):
    it = iter(leaves)
    out = _build(like, it)
    if next(it, None) is not None:
        raise ValueError("more leaves than the tree has places")
    return out


def _build(node, it):
    if isinstance(node, np.ndarray):
        return next(it)
    if isinstance(node, dict):
        built = {k: _build(node[k], it) for k in sorted(node)}
        return {k: built[k] for k in node}          # the caller's key order
    if isinstance(node, list):
        return [_build(x, it) for x in node]
    names = node_fields(node)
    if names is not None:
        arrays = _array_fields(node)
        return make_node(type(node), {k: _build(getattr(node, k), it) if k in arrays
                                      else getattr(node, k) for k in names})
    return next(it)


def _array_fields(node) -> list:
    """The fields of a pytree node that hold arrays (directly or in containers and nodes)."""
    return [k for k in node_fields(node) if _has_array(getattr(node, k))]


def _has_array(x) -> bool:
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, dict):
        return any(_has_array(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_array(v) for v in x)
    return node_fields(x) is not None and bool(_array_fields(x))


def tree_zeros_like(tree):
    _, leaves = flatten(tree)
    return unflatten(tree, [np.zeros_like(x) for x in leaves])
