"""Numba programs: the drivers and kernels of a primal function or of an adjoint.

`NumbaProgram(adjoint, name)` follows the protocol of `backends/numpy/__init__.py`: `.fwd`,
`.bwd`, `.grad`, `.source`. `.grad` is not fwd-then-bwd: it runs one driver generated from
the forward and backward IR spliced into one function, so the residuals are internal values
that the planner places in reused buffers (and frees after their last read in the backward
sweep); `.fwd`'s residuals must outlive the call and are allocated fresh. `.source` is the
drivers followed by every kernel they call, each once. Kernels compile on first call (Numba
compiles lazily), so a program that is only ever asked for `.grad` compiles only its kernels;
each driver's first calls may run the NumPy backend's function of it meanwhile (tier.py).
Programs keep buffers between calls: one program must not run in two threads at once.
"""
from __future__ import annotations

import functools
import threading

from ...errors import AdcompilerError, where
from ...ir.builder import Builder
from ...ir.core import Block, Function
from ...ir.names import identifier
from ...ir.passes import run_passes
from ...ir.printer import locations, print_function, quoted
from ...ir.rewrite import clone_block, clone_body
from ...runtime.nans import raising_where_a_result_is_nan
from ..numpy.codegen import LEGEND, ArrayConstants, compile_source, scipy_import, sources
from . import cache, driver, precompile, tier
from .driver import DriverGen
from .options import OPTIONS, njit_flags
from .remat import rematerialise
from .runtime import scalar
from .. import numpy as numpy_backend


class KernelTable:
    """The kernels (`k_<key>`), loops compiled whole (`l_<key>`, loops.py) and functions
    compiled whole (`w_<key>`, the same) a program's drivers call, by the name of the driver's
    global, in the order they were written (a loop's kernels before it)."""

    def __init__(self):
        self.sources: dict[str, str] = {}

    def add(self, kernel) -> str:
        return self._add(f"k_{kernel.key}", kernel.source)

    def add_loop(self, source: str, prefix="l") -> str:
        return self._add(f"{prefix}_{cache.key(source)}", source)

    def _add(self, name, source) -> str:
        self.sources.setdefault(name, source)
        return name


def build(name, make, key=None, stash=None):
    """(shown source, namespace, the built program: what the program cache holds) of the drivers
    and kernels of the IR functions `make()` gives as (function, recycled) pairs (with their
    callees); a recycled function's returned arrays are recycled between calls (`Arena.fresh`).
    What an earlier process built from the same IR comes from the disk cache
    (`cache.load_program`), found by `key` when given (`make` is then called only when nothing
    is there), else by the functions' IR texts. `stash`: the Adjoint whose sweeps are among
    them, the backward's residual parameters named as the forward's driver returns them
    (`codegen.sources`)."""
    functions = None if key else _with_callees(make())
    key = key or _key(name, functions)
    built = cache.load_program(key)
    if built is None:
        built = _generate(functions or _with_callees(make()), stash)
        cache.store_program(key, built)
    return built[0], namespace(name, built), built


def namespace(name, built) -> dict:
    """The globals of a built program's drivers: the drivers, kernel modules and arenas."""
    _, source, kernels, arenas = built
    ns = compile_source(source + "\n", f"numba {name}")
    ns.update({k: cache.load(src) for k, src in kernels.items()})
    ns.update(arenas)
    return ns


_FASTMATH_NAN = ("; and ADCOMPILER_FASTMATH=1 is set: fast math assumes no value is NaN or "
                 "inf, so np.isnan and np.isinf read False and a where choosing on them keeps "
                 "the NaN (unset it for such code)")


def _with_callees(pairs) -> dict:
    """Function name -> (function, recycled), callees (never recycled) included, each once."""
    seen: dict = {}
    for fn, recycled in pairs:
        seen.setdefault(fn.name, (fn, recycled))
        for f in fn.callees() if fn.module else []:
            seen.setdefault(f.name, (f, False))
    return seen


def _key(name, functions) -> str:
    """The program cache key of `_with_callees`'s functions: their IR texts, locations and the
    source lines the drivers quote."""
    parts = []
    for f, r in functions.values():
        locs = locations(f)
        parts.append((print_function(f, with_callees=False), locs, quoted(locs), r))
    return cache.program_key(name, parts, OPTIONS, njit_flags(), driver.PAR_MIN)


def _generate(functions, stash=None):
    """(shown source, driver source, kernel sources by key, arenas by global name) of
    `_with_callees`'s functions (`build`'s `stash`)."""
    table = KernelTable()
    constants = ArrayConstants(f for f, _ in functions.values())
    gens = {name: DriverGen(f, table, parallel=OPTIONS["parallel"], flags=njit_flags(),
                            profile=OPTIONS["profile"], recycle=recycled, constants=constants,
                            functions=functions, whole=OPTIONS["whole"])
            for name, (f, recycled) in functions.items()}
    drivers, _ = sources(gens, stash)
    # (the NumPy backend's lowerings that scalar steps use may name SciPy: driver.steps_of)
    source = "\n\n\n".join([LEGEND + "import numpy as np\n" + scipy_import("".join(drivers))
                            + "from adcompiler.backends.numba_cpu import runtime as rt",
                            *(["\n".join(constants.definitions())] if constants.made else []),
                            *drivers])
    kind = {"k": "kernel", "l": "loop", "w": "function compiled whole"}
    kernel_text = "\n\n".join(f"# ----- {kind[name[0]]} {name} -----\n{src}"
                              for name, src in table.sources.items())
    shown = source + "\n\n\n# ===== kernels =====\n" + kernel_text + "\n"
    arenas = {f"arena_{identifier(g.fn.name)}": g.arena for g in gens.values()}
    return shown, source, dict(table.sources), arenas


def no_float16(fn, name) -> None:
    """Numba has no float16 arithmetic on the CPU: say so (for the user's function `name`), and
    what to do, before it fails deep in its compiler."""
    first = next((op for op in fn.walk() if any(r.type.dtype == "f16" for r in op.results)),
                 None)
    arg = next((a for a in fn.args if a.type.dtype == "f16"), None)
    if arg is not None:
        why = f" (argument {arg.hint} is float16; {name} is at {where(fn.loc)})"
    elif first is None:
        return
    else:
        why = (f" (the first float16 value is made at {where(first.loc)}"
               + ("; NumPy computes a float function of a bool array, as np.sqrt(mask), in "
                  "float16" if any(v.type.dtype == "bool" for v in first.operands) else "")
               + ")")
    raise AdcompilerError(f"{name}: the numba backend cannot compute in float16 (Numba has no "
                          f"float16 arithmetic on the CPU){why}; cast to float32, or use "
                          "backend='numpy'")


def inlined(fn) -> Function:
    """A copy of `fn` with its calls inlined (the driver of one function fuses best) and its
    dead code dropped (a fused kernel has nowhere to put a reduction nothing reads)."""
    copy = Function(fn.name, clone_block(fn.body, {}), loc=fn.loc, module=fn.module)
    return run_passes(copy, (["inline"] if fn.module else []) + ["dce"])


def spliced(adj, name) -> Function:
    """fwd then bwd as one function: params -> (primal results..., gradients...), with cheap
    residuals recomputed in the backward sweep (`remat`)."""
    fwd, bwd = adj.fwd, adj.bwd
    body = Block([a.type for a in fwd.args], [a.hint for a in fwd.args])
    ops, outs = clone_body(fwd.body, body.args)
    for op in ops:
        body.append(op)
    b = Builder(body)
    results, residuals = outs[:adj.n_results], outs[adj.n_results:]
    seeds = [b.op("constant", value=1.0, dtype=results[k].type.dtype, hint="seed")
             for k in adj.seeded]
    split = len(body.ops)
    ops, grads = clone_body(bwd.body, list(residuals) + seeds)
    for op in ops:
        body.append(op)
    b.emit("return", list(results) + list(grads))
    rematerialise(body, split)
    return Function(name, body, loc=fwd.loc, module=fwd.module or bwd.module)


class NumbaProgram:
    """See the module docstring. Drivers are built on first use: a training loop that only
    calls `.grad` never generates or loads the separate sweeps (a shorter warm start).

    NaNs: kernels raise no floating-point errors. When the caller asked for them
    (`np.errstate(invalid="raise")`, as the API does by default) and a result holds a NaN, the
    call is run again by the NumPy reference, which raises FloatingPointError at the op that
    made the NaN (a fused kernel cannot say which of its ops did), so the error names the
    user's line exactly as the NumPy backend does (`runtime.nans`)."""

    def __init__(self, adj, name: str):
        no_float16(adj.fwd, name)
        self.adj, self._label = adj, name
        self.name = identifier(adj.fwd.unused_name(name + "_grad"))
        self._drivers: dict = {}
        self._source = None
        self._reference = None      # the NumPy backend's program (_numpy_program)
        self._lock = threading.Lock()

    def _functions(self, which):
        return [spliced(self.adj, self.name)] if which == "grad" else [self.adj.fwd,
                                                                       self.adj.bwd]

    def _driver(self, which):
        sweeps = which in ("fwd", "bwd")
        drivers = self._drivers.get(sweeps)
        if drivers is None:
            with self._lock:    # (threads making the first call at once: one build, one child)
                if sweeps not in self._drivers:
                    self._drivers[sweeps] = self._build(which)
            drivers = self._drivers[sweeps]
        return drivers[which]

    def _build(self, which):
        """The drivers of the fused program (`which` "grad") or of the sweeps, by name."""
        # only the fused driver recycles its results: the separate sweeps' residuals are most
        # of the activations, and recycled they would hold a second copy for good
        _, ns, program = build(self._label, lambda: [(f, which == "grad")
                                                   for f in self._functions(which)],
                               self._key(which), None if which == "grad" else self.adj)
        names = {"grad": self.name, "fwd": identifier(self.adj.fwd.name),
                 "bwd": identifier(self.adj.bwd.name)}
        return {w: tier.first_calls(ns[n], program, lambda w=w: self._numpy_function(w))
                for w, n in names.items() if n in ns}

    def _numpy_function(self, which):
        """The NumPy backend's function of the driver `which`, returning what it returns (the
        fused one: results and gradients in one tuple, not a pair of tuples)."""
        fn = self._numpy_program().functions[which]
        if which != "grad":
            return fn
        return lambda *args: tuple(v for part in fn(*args) for v in part)

    def _numpy_program(self):
        """The NumPy backend's program of the adjoint (built once: for a tier's first calls,
        and to name the op that made a NaN)."""
        if self._reference is None:
            self._reference = numpy_backend.AdjointProgram(self.adj, self._label)
        return self._reference

    def _key(self, which):
        """The fused driver's program cache key from the adjoint's own (`Adjoint.key`): a warm
        start finds it built without splicing and printing the program (0.1 s on medium)."""
        if which != "grad" or self.adj.key is None:
            return None
        return cache.program_key(self._label, self.name, self.adj.key, OPTIONS, njit_flags(),
                                 driver.PAR_MIN)

    def _run(self, which, args):
        def reference():
            # (built once: anew at each NaN, a training loop that catches NaNErrors and goes
            # on generated, ran and kept in linecache one more program per failing call)
            return self._numpy_program().functions[which](*args)
        return raising_where_a_result_is_nan(lambda: self._driver(which)(*args), reference,
                                             0 if which == "bwd" else self.adj.n_results,
                                             _FASTMATH_NAN if OPTIONS["fastmath"] else "")

    @property
    def source(self) -> str:
        """The forward, backward and fused drivers, then every kernel they call."""
        if self._source is None:
            self._source = build(self._label, lambda: [(f, False) for f in self._functions("fwd")]
                                 + [(f, True) for f in self._functions("grad")],
                                 stash=self.adj)[0]
        return self._source

    def fwd(self, *args):
        out = self._run("fwd", args)
        out = tuple(map(scalar, out)) if len(self.adj.fwd.results) != 1 else (scalar(out),)
        return out[:self.adj.n_results], out[self.adj.n_results:]

    def bwd(self, residuals, cotangents):
        out = self._run("bwd", (*residuals, *cotangents))
        return tuple(map(scalar, out)) if len(self.adj.bwd.results) != 1 else (scalar(out),)

    def grad(self, *args):
        out = self._run("grad", args)
        out = tuple(map(scalar, out)) if isinstance(out, tuple) else (scalar(out),)
        return out[:self.adj.n_results], out[self.adj.n_results:]


def compile_function(fn):
    """A primal function as a callable (the protocol's `compile_function`)."""
    no_float16(fn, fn.name)
    fn = inlined(fn)
    source, ns, program = build(fn.name, lambda: [(fn, True)])

    @functools.cache
    def reference():        # (the NumPy backend's function, built at its first use)
        return numpy_backend.compile_function(fn)
    driver = tier.first_calls(ns[identifier(fn.name)], program, reference)

    def call(*args):
        out = driver(*args)
        return tuple(map(scalar, out)) if isinstance(out, tuple) else scalar(out)

    call.source = source
    return call
