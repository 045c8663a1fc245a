"""Matrix products written straight into the slices of the array they are assembled into.

The adjoint of taking slices of one array (`q, k, v = qkv[0], qkv[1], qkv[2]`) is a sum of
zero-padded pieces, `update_slice(zeros, piece, slice)` per slice, which fusion makes one kernel
that reads every piece and writes the whole array (the medium GPT's q/k/v gradients: ~12 ms a
step). When the slices tile the array and every piece is a matrix product's result that
nothing else reads (seen through transposes and reshapes that only add or drop size-1 axes,
which are views both ways), each product writes into its slice of the array instead, and the
kernel has nothing left to do.

Contract: `assemblies(prepared, users)` takes a block's steps as `DriverGen.prepare` makes them
(`(kind, item, kernel)`) and the IR's users, and returns an `Assembly` per kernel step that is
such a sum: the step's index, the assembled value, the index of the step of its first product,
and per product result (its *root*) the expression that views the root inside the assembled
array (`view(root, name)`). The driver allocates the assembled value before its first product
runs, gives each product that view as its output and skips the kernel; the memory planner sees
each root as a view of the assembled value, so its buffer is held from the first product on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...ir.types import inverse_perm
from .fusion import loop_kind, scalar_constant


@dataclass
class Assembly:
    step: int                                   # the kernel step it replaces
    value: object                               # the assembled array
    first: int = 0                              # the step of its first product
    pieces: dict = field(default_factory=dict)  # root -> (box, ops from the root's reader
                                                #         to the piece: views)

    def view(self, root, name: str) -> str:
        box, chain = self.pieces[root]
        index = [f"{lo}:{hi}" for lo, hi in box]
        while len(index) > 1 and index[-1] == f"0:{self.value.shape[len(index) - 1]}":
            index.pop()
        expr = f"{name}[{', '.join(index)}]"
        for op in chain:                # undo each view, the piece's own first
            if op.name == "transpose":
                expr = f"np.transpose({expr}, {inverse_perm(tuple(op.attrs['perm']))})"
            else:
                expr = f"np.reshape({expr}, {tuple(op.operands[0].shape)})"
        return expr


def _is_zero(v) -> bool:
    const = scalar_constant(v)
    return const is not None and const.attrs["value"] == 0


def _view(op) -> bool:
    """A transpose, or a reshape that only adds or drops size-1 axes: a view of any strided
    array, and its inverse is one too."""
    return op.name == "transpose" or loop_kind(op) == "unit_reshape"


def _boxes(group, out):
    """(box, piece) per slice when `group` adds up update_slices of zeros, each read once,
    into `out` alone; else None."""
    boxes, reads = [], {}
    for op in group.ops:
        if op.name == "update_slice":
            if not _is_zero(op.operands[0]) or any(s != 1 for s in op.attrs["steps"]):
                return None
            boxes.append((tuple(zip(op.attrs["starts"], op.attrs["stops"])), op.operands[1]))
        elif op.name == "add" and op.operands[0].shape == op.operands[1].shape == out.shape:
            for x in op.operands:
                reads[x] = reads.get(x, 0) + 1
        else:
            return None
    members = {op.result for op in group.ops}
    if reads.keys() - members or any(n != 1 for n in reads.values()) \
            or members - set(reads) != {out}:
        return None
    return boxes


def _tiles(boxes, shape) -> bool:
    def disjoint(a, b):
        return any(hi1 <= lo2 or hi2 <= lo1 for (lo1, hi1), (lo2, hi2) in zip(a, b))

    size = sum(math.prod(hi - lo for lo, hi in box) for box, _ in boxes)
    return size == math.prod(shape) and all(
        disjoint(a, b) for i, (a, _) in enumerate(boxes) for b, _ in boxes[i + 1:])


def assemblies(prepared, users) -> list:
    step_of = {}
    for index, (kind, item, _) in enumerate(prepared):
        if kind == "op":
            for r in item.results:
                step_of[r] = index
    found = []
    for index, (kind, group, kern) in enumerate(prepared):
        if kind != "kernel" or len(kern.outputs) != 1:
            continue
        out = kern.outputs[0]
        boxes = _boxes(group, out)
        if boxes is None or len(boxes) < 2 or not _tiles(boxes, out.shape):
            continue
        a = Assembly(index, out)
        for box, piece in boxes:
            chain, v = [], piece
            while v in step_of and len(users.get(v, ())) == 1 and _view(v.owner):
                chain.append(v.owner)
                v = v.owner.operands[0]
            if v not in step_of or v.owner.name != "matmul" or len(users.get(v, ())) != 1:
                break
            a.pieces[v] = (box, chain)
        else:
            a.first = min(step_of[root] for root in a.pieces)
            found.append(a)
    return found
