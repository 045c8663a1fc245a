"""Random numbers in traced code.

A call with only static arguments runs in Python while the function is traced, and its result
is a constant of the compiled program. For a draw from a random generator that would be wrong
silently: `mask = np.random.rand(*x.shape) < p` (NumPy's functions draw from its global
RandomState) or `rng.normal(size=n)` with a generator made outside would give the same numbers
on every call, where NumPy gives new ones. So such a draw (and np.random.seed) is an error
saying what to do instead (draw outside, pass the array in).

A generator the traced code makes itself from a static seed (`np.random.default_rng(seed)`,
`RandomState(seed)`, `Generator(PCG64(seed))`, `random.Random(seed)`) gives the same numbers on
every call in NumPy too: draws from it run while tracing, as other static code does (the seed
is part of the specialisation, or a constant of the function).
"""
from __future__ import annotations

import random

import numpy as np

from .problems import FrontendError

GENERATORS = (np.random.Generator, np.random.RandomState, np.random.BitGenerator,
              np.random.SeedSequence, random.Random)


def check_draw(seeded: dict, fn) -> None:
    """Refuse a method of a random generator that the traced code did not seed itself, and
    np.random.seed (NumPy's global generator is never seeded inside)."""
    owner = getattr(fn, "__self__", None)
    if fn is not np.random.seed and (not isinstance(owner, GENERATORS) or id(owner) in seeded):
        return
    name = getattr(fn, "__name__", "draw")
    if fn is np.random.seed or owner is np.random.mtrand._rand:
        spelled = f"np.random.{name}"
    elif isinstance(owner, random.Random):
        spelled = f"random.{name}"
    else:
        spelled = f"{type(owner).__name__}.{name}"
    raise FrontendError(
        f"{spelled} would run once, while adcompiler traces the function, and not on each "
        f"call: every call would get the same random numbers. Draw them outside and pass the "
        f"array in as an argument (a dropout mask, say); a generator seeded inside from a "
        f"static seed (np.random.default_rng(0)) is fine")


def note_seeded(seeded: dict, args, kwargs, result) -> None:
    """Remember `result` as seeded by the traced code when it is a generator made here from a
    seed that is not None (an int, or a generator seeded here)."""
    if not isinstance(result, GENERATORS) or id(result) in seeded:
        return
    given = [a for a in (*args, *kwargs.values()) if a is not None]
    if given and all(id(a) in seeded for a in given if isinstance(a, GENERATORS)) \
            and not any(a is result for a in given):
        seeded[id(result)] = result         # kept alive, so its id stays its own
