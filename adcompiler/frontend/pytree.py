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

    def walk(node):
        if is_leaf(node):       # first: most nodes are leaves
            leaves.append(node)
            return ("leaf",)
        if isinstance(node, tuple) and not hasattr(node, "_fields"):
            return ("tuple", tuple(walk(x) for x in node))
        if isinstance(node, list):
            return ("list", tuple(walk(x) for x in node))
        if isinstance(node, dict):
            keys = tuple(node)
            return ("dict", keys, tuple(walk(node[k]) for k in keys))
        return ("static", node)

    return leaves, walk(tree)


def unflatten(treedef, leaves):
    it = iter(leaves)

    def build(td):
        kind = td[0]
        if kind == "leaf":
            return next(it)
        if kind == "static":
            return td[1]
        if kind == "tuple":
            return tuple(build(c) for c in td[1])
        if kind == "list":
            return [build(c) for c in td[1]]
        return {k: build(c) for k, c in zip(td[1], td[2], strict=True)}

    out = build(treedef)
    if next(it, None) is not None:
        raise ValueError("more leaves than the tree has places")
    return out


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
