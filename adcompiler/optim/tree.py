"""Parameter trees: nested dicts and lists whose leaves are NumPy arrays.

    paths, leaves = flatten(tree)      leaves in a fixed order, each with a path "layers/0/fc_w"
    tree = unflatten(like, leaves)     the structure of `like`, with `leaves` in its places
    tree_zeros_like(tree)              zeros of each leaf's shape and dtype

The order is deterministic: dict keys sorted, lists in order. Paths use "/" and name a leaf in a
checkpoint (`.npz` keys) and in reports (per-layer gradient norms). Tuples are not parameter
containers here (the optimisers take dicts and lists, as `init_params` builds them).
"""
from __future__ import annotations

import numpy as np


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
    if isinstance(node, dict):
        for k in sorted(node):
            _walk(node[k], f"{path}/{k}" if path else str(k), paths, leaves)
    elif isinstance(node, list):
        for i, x in enumerate(node):
            _walk(x, f"{path}/{i}" if path else str(i), paths, leaves)
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
    if isinstance(node, dict):
        built = {k: _build(node[k], it) for k in sorted(node)}
        return {k: built[k] for k in node}          # the caller's key order
    if isinstance(node, list):
        return [_build(x, it) for x in node]
    return next(it)


def tree_zeros_like(tree):
    _, leaves = flatten(tree)
    return unflatten(tree, [np.zeros_like(x) for x in leaves])
