"""Buffer planning for one driver function: which arrays live in reused, preallocated buffers.

Contract: `plan(steps, aliases, escaping)` takes the top-level steps in order, each as
(values it defines, values it reads), `aliases` (a view -> the value it is a view of) and the
values that must own fresh memory (returned, pushed on a tape, carried into a loop: their
lifetime is not visible here). Every other defined value in `steps[i][0]` that is not a view
gets a `Slot` and byte offset 0 in it; a slot is reused once every value (and view) in it has
been read for the last time, so the bytes held track the live set of the schedule instead of
growing with every temporary. Nothing is written in place: an output never shares a slot with
an input of the same step.

`Arena` allocates the slots once (the first call in each thread) and hands out, per planned
value, a view of the value's shape and dtype into its slot: the same arrays every call, so the
operating system maps their pages once, not once per step (a call takes them and gives them
back when it returns: `take`, `give`). `Arena.fresh` gives the arrays that
outlive a call (returned values: gradients, an optimiser's new parameters and moments) an array
the arena handed out in an earlier call and that nothing holds any more (its reference count
says so: no view, no caller keeps it), else a new one. A functional update
`p, m, v = update(p, g, m, v)` then writes into the arrays of two steps ago instead of fresh
memory: no page faults and no allocator round trip per step (the medium GPT's train step: AdamW
took 48 ms after the gradient, now 31; the step's extra memory went from 75 MB to 4). Only the
drivers of `grad` and of `jit` do so: the separate forward sweep returns most activations as
residuals, which a second, recycled copy would hold for the life of the program. A value may be
laid out in its slot in another axis order (`layouts`: value -> perm): its view is then
`storage.transpose(inverse of perm)` of a C-contiguous storage of shape `shape[perm]`, which is
what a value read only as `transpose(value, perm)` wants: that transpose is contiguous, so the
reshape after it is a view instead of a copy (the fused q/k/v gradient, attention's output
heads).
"""
from __future__ import annotations

import math
import mmap
import sys
import threading
from dataclasses import dataclass

import numpy as np

from ...ir.rewrite import lookup
from ...ir.types import DTYPES, inverse_perm


@dataclass(eq=False)      # compared by identity: two slots of one size are two buffers
class Slot:
    nbytes: int = 0


@dataclass(frozen=True)
class Entry:
    slot: int
    shape: tuple
    dtype: str          # NumPy's name
    perm: tuple | None  # the axis order it is stored in, None for C order

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


def nbytes(v) -> int:
    return v.type.size * np.dtype(DTYPES[v.type.dtype]).itemsize


def plan(steps, aliases: dict, escaping: set, candidates: set):
    """value -> Slot for the `candidates` (defined values the driver allocates) that may be
    planned; see the module docstring."""
    def base(v):
        return lookup(aliases, v)

    free_never = {base(v) for v in escaping}
    last: dict = {}
    for i, (defs, uses) in enumerate(steps):
        for v in list(defs) + list(uses):
            last[base(v)] = i
    slots: list[Slot] = []
    free: list[Slot] = []
    owner: dict = {}
    held: dict = {}         # base value -> slot, while live
    for i, (defs, uses) in enumerate(steps):
        for v in defs:
            if v not in candidates or v in free_never or base(v) is not v:
                continue
            need = nbytes(v)
            fits = [s for s in free if s.nbytes >= need]
            if fits:
                slot = min(fits, key=lambda s: s.nbytes)
            elif free:
                slot = max(free, key=lambda s: s.nbytes)
                slot.nbytes = need
            else:
                slot = Slot(need)
                slots.append(slot)
            if slot in free:
                free.remove(slot)
            owner[v] = slot
            held[v] = slot
        for b, slot in list(held.items()):
            if last.get(b, i) <= i:
                del held[b]
                free.append(slot)
    return owner, slots


def _first_free(pool, free_refs):
    for a in pool:
        if sys.getrefcount(a) <= free_refs:
            return a
    return None


def _calibrate():
    """The reference count `_first_free` sees for an array only its pool holds (None where
    reference counts do not say it, e.g. a free-threaded Python)."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    # (a tracer that reads frame locals, as a debugger showing variables does, adds a
    # reference: calibrated under one, an array the user holds would read as free)
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        for refs in range(1, 8):
            if _first_free([np.empty(1)], refs) is not None:
                return refs
        return None
    finally:
        sys.settrace(tracer)


FREE_REFS = _calibrate()
POOL_CAP = 3        # arrays kept per allocation site: this call's, the caller's from the call
                    # before, one spare; a caller that keeps every result (a list of
                    # gradients) gets fresh ones, and the scan stays short


def _pages(nbytes: int) -> np.ndarray:
    """`nbytes` of new, page-aligned memory as a uint8 array: an anonymous mapping, not
    `np.empty`. NumPy asks the kernel for transparent huge pages on arrays of 4 MB and more,
    and where huge pages are allocated on demand with compaction (a KVM guest here: THP
    `madvise`, defrag `madvise`) each first touch of 2 MB stalls: the medium GPT's first
    gradient took 2.3-2.6 s instead of 1.9-2.0, for no gain later (1.31-1.38 s either way).
    (`fresh` arrays stay `np.empty`'s: they own their memory, so a view of one holds a
    reference to it, which `_first_free` counts.)"""
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    # private: the default mapping is shared, and a forked child would write into it
    return np.frombuffer(mmap.mmap(-1, max(nbytes, 1), **private), np.uint8)[:nbytes]


class Arena:
    """The planned buffers of one driver function, allocated on first use, and the arrays it
    returned (see `fresh`). Plain data (no IR), so a built program can be kept on disk:
    `sizes[i]` bytes per slot, and per planned value, in the driver's `B[i]` order, an `Entry`
    (its slot, shape, dtype, and storage axis order or None)."""

    def __init__(self, slots, owner, layouts=None):
        slot_of = {id(s): i for i, s in enumerate(slots)}
        self.sizes = [s.nbytes for s in slots]
        self.entries = [Entry(slot_of[id(slot)], tuple(v.type.shape), DTYPES[v.type.dtype],
                              (layouts or {}).get(v)) for v, slot in owner.items()]
        self._local = threading.local()

    def __getstate__(self):
        return {"sizes": self.sizes, "entries": self.entries}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def fresh(self, site, shape, dtype):
        """An array for the value that allocation site `site` of the driver makes and that
        outlives the call (see the module docstring)."""
        if FREE_REFS is None:
            return np.empty(shape, dtype)
        returned = getattr(self._local, "returned", None)
        if returned is None:
            returned = self._local.returned = {}
        pool = returned.setdefault(site, [])
        a = _first_free(pool, FREE_REFS)
        if a is None:
            a = np.empty(shape, dtype)
            if len(pool) < POOL_CAP:
                pool.append(a)
        return a

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)

    def take(self):
        """The planned values' arrays, for one call until it gives them back (`give`): each
        thread has its own (a call in one thread must not write into the buffers of a call
        running in another; N threads calling hold N sets), freed when the thread ends. A
        call of the same function from inside a running one on its thread (from a print
        hook, a `__del__`) finds them taken and gets a set of its own, as does the next call
        after one that raised."""
        views = getattr(self._local, "views", None)
        self._local.views = None
        if views is None:
            raw = [_pages(size) for size in self.sizes]
            views = []
            for e in self.entries:
                arr = raw[e.slot][:e.nbytes].view(e.dtype)
                perm = e.perm or tuple(range(len(e.shape)))
                arr = arr.reshape(tuple(e.shape[i] for i in perm))
                views.append(arr.transpose(inverse_perm(perm)))
            views = tuple(views)
        return views

    def give(self, views) -> None:
        self._local.views = views
