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
is part of the specialisation, or a constant of the function). Not so in code traced once for
many runs: a loop kept as a loop (each iteration would get the first one's numbers) or a branch
of a run-time `if` (both are traced, NumPy draws only in the one taken): a draw there from a
generator made outside it (`scope` says where the trace is) makes a static loop unroll
(`Fallback`) and is an error in a run-time loop or branch. A generator made inside such a
region is made again on each run there, as in NumPy.

Such a NumPy generator's `normal`, `lognormal`, `uniform` and `exponential` with run-time
parameters are the reparameterised draws `loc + scale * standard_normal(shape)`, `exp` of
that, `low + (high - low) * random(shape)` and `scale * standard_exponential(shape)`: the
standard draw is static, and NumPy computes those methods so from it, so the values are
NumPy's, and the gradient in the parameters is the pathwise one (torch's rsample). A negative
scale (sigma), and a Generator's uniform with high < low, are NumPy's ValueError, an
AssertionFailed when it runs.
"""
from __future__ import annotations

import contextlib
import random

import numpy as np

from . import arith, reductions
from .problems import Fallback, FrontendError
from .values import Traced

NUMPY_GENERATORS = (np.random.Generator, np.random.RandomState)
GENERATORS = (*NUMPY_GENERATORS, np.random.BitGenerator, np.random.SeedSequence, random.Random)
SEEDED = (np.random.default_rng, np.random.seed)     # (functions making or seeding one)


@contextlib.contextmanager
def scope(session, kind: str):
    """Trace a region that runs many times or maybe not at all: kind "loop" (a loop op's body)
    or "branch" (a run-time if's)."""
    session.draw_scopes.append(kind)
    try:
        yield
    finally:
        session.draw_scopes.pop()


def outer_scope(session, depth: int) -> str | None:
    """Where the trace is, for a stateful object (a seeded generator, an iterator) made at
    `depth` (len(session.draw_scopes) then): None in the region it was made in, else the kind
    of the innermost region since ("loop" or "branch"), where using it would use it once,
    while tracing, not on each run of the region."""
    return None if depth == len(session.draw_scopes) else session.draw_scopes[-1]


def check_draw(session, fn) -> None:
    """Refuse a method of a random generator that the traced code did not seed itself, and
    np.random.seed (NumPy's global generator is never seeded inside); and a draw from one
    seeded outside the loop or branch the trace is in."""
    owner = getattr(fn, "__self__", None)
    if fn is not np.random.seed and not isinstance(owner, GENERATORS):
        return
    if id(owner) in session.seeded:
        where = outer_scope(session, session.seeded[id(owner)][1])
        if where is None:
            return
        if where == "loop":
            raise Fallback("it draws random numbers from a generator made before the loop "
                           "(draw them all before it: rng.normal(size=(n, ...)))")
        raise FrontendError("a draw from a random generator made before this run-time if: "
                            "NumPy draws only in the branch taken, the compiled code would "
                            "draw in both while tracing; draw before the if")
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


def note_seeded(session, args, kwargs, result) -> None:
    """Remember `result` as seeded by the traced code when it is a generator made here from a
    seed that is not None (an int, or a generator seeded here), with the depth of loops and
    branches it was made in."""
    seeded = session.seeded
    if not isinstance(result, GENERATORS) or id(result) in seeded:
        return
    given = [a for a in (*args, *kwargs.values()) if a is not None]
    if given and all(id(a) in seeded for a in given if isinstance(a, GENERATORS)) \
            and not any(a is result for a in given):
        # (kept alive, so its id stays its own)
        seeded[id(result)] = (result, len(session.draw_scopes))


def _normal(loc=0.0, scale=1.0, size=None): ...
def _lognormal(mean=0.0, sigma=1.0, size=None): ...
def _uniform(low=0.0, high=1.0, size=None): ...
def _exponential(scale=1.0, size=None): ...


# method -> (its parameters, the standard draw it scales, the parameter that must be >= 0)
REPARAMETERISED = {"normal": (_normal, "standard_normal", "scale"),
                   "lognormal": (_lognormal, "standard_normal", "sigma"),
                   "uniform": (_uniform, "random", None),
                   "exponential": (_exponential, "standard_exponential", "scale")}


def reparameterised(cx, fn, given):
    """A seeded NumPy generator's draw `fn` (a REPARAMETERISED method) with run-time
    parameters (`given`: its parameters' arguments), from its standard draw (see the module
    docstring)."""
    _, standard, nonnegative = REPARAMETERISED[fn.__name__]
    if isinstance(given["size"], Traced):
        raise FrontendError(f"{fn.__name__}'s size must be a compile-time shape")
    shape = given["size"]
    if shape is None:       # (the parameters' broadcast shape, as NumPy's)
        shape = np.broadcast_shapes(*(np.shape(v) if not isinstance(v, Traced) else v.shape
                                      for k, v in given.items() if k != "size"))
    check_draw(cx.session, fn)
    draw = getattr(fn.__self__, standard)(size=shape)
    if nonnegative is not None:
        reductions.assert_none(cx, arith.binary(cx, "lt", given[nonnegative], 0),
                               f"{nonnegative} < 0 (NumPy's ValueError)")
    if fn.__name__ == "uniform":
        low, high = given["low"], given["high"]
        if isinstance(fn.__self__, np.random.Generator):   # (RandomState takes high < low)
            reductions.assert_none(cx, arith.binary(cx, "lt", high, low),
                                   "high - low < 0 (NumPy's ValueError)")
        return arith.binary(cx, "add", low, arith.binary(
            cx, "mul", arith.binary(cx, "sub", high, low), draw))
    if fn.__name__ == "exponential":
        return arith.binary(cx, "mul", given["scale"], draw)
    first, second = (given["loc"], given["scale"]) if fn.__name__ == "normal" else \
        (given["mean"], given["sigma"])
    out = arith.binary(cx, "add", first, arith.binary(cx, "mul", second, draw))
    return out if fn.__name__ == "normal" else arith.unary(cx, "exp", out)
