"""Pytrees: nested tuples, lists and dicts whose leaves are arrays or Python scalars.

`flatten(tree, is_leaf)` returns (leaves, treedef); `unflatten(treedef, leaves)` rebuilds the
tree. `is_leaf` is asked first, so it must be false for tuples, lists and dicts. Leaves for
which `is_leaf` is false are static: kept inside the treedef (ints, bools, strings, None -
compile-time constants), so two trees with different static values have different treedefs.
Treedefs are hashable (part of the specialisation key).
"""
from __future__ import annotations


def flatten(tree, is_leaf):
    leaves: list = []
    return leaves, _walk(tree, is_leaf, leaves)


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
        return ("dict", keys, tuple(_walk(node[k], is_leaf, leaves) for k in keys))
    return ("static", node)


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
    return {k: _build(c, it) for k, c in zip(td[1], td[2], strict=True)}


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
        elif kind == "dict":
            stack.extend((c, keys + (k,)) for k, c in reversed(list(zip(td[1], td[2]))))
    return out


def set_entry(root, keys, value) -> None:
    """root[keys[0]][keys[1]]... = value (`keys` as `leaf_keys` gives them, with a first key
    into `root`)."""
    for k in keys[:-1]:
        root = root[k]
    root[keys[-1]] = value


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
        elif kind == "dict":
            for k, c in zip(td[1], td[2], strict=True):
                walk(c, f"{path}.{k}")

    walk(treedef, prefix)
    return out
