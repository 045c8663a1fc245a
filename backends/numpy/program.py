"""An adjoint program for NumPy: the forward function, the backward function and a driver
that a person reads top to bottom.

    def loss_fwd(x, w):          # the forward pass; returns the value and the residuals
    def loss_bwd(h, w, d_l):     # the backward pass; returns the gradients
    def loss_grad(x, w):         # forward, the stash it keeps, backward seeded with 1
        l, h, w_1 = loss_fwd(x, w)
        d_x, = loss_bwd(h, w_1, np.float64(1.0))
        return (l,), (d_x,)

`NumpyProgram.fwd(*args)` returns (results, residuals), `.bwd(residuals, cotangents)` the
gradients, `.grad(*args)` (results, gradients) with every seeded result's cotangent 1. Under
`np.errstate(invalid="raise")` only a NaN that reaches a result raises (at the op that made
it; `runtime.nans.raising_where_a_result_is_nan`), as on the Numba backend.
"""
from __future__ import annotations

from ...ir.core import Module
from ...ir.names import GENERATED_GLOBALS, Namer, adjoint, identifier
from ...ir.types import DTYPES
from ...runtime.nans import raising_where_a_result_is_nan
from .codegen import compile_source, generate


def _tuple(names):
    return "(" + "".join(n + ", " for n in names) + ")" if len(names) != 1 else f"({names[0]},)"


def driver_source(adj, name: str, residuals) -> str:
    """The driver; `residuals`: the forward source's names of the residuals it returns."""
    fwd, bwd = adj.fwd, adj.bwd
    namer = Namer(GENERATED_GLOBALS + (identifier(fwd.name), identifier(bwd.name), name),
                  style=identifier)
    params = [namer(a) for a in fwd.args]
    # a stashed parameter keeps its parameter's name (the forward pass hands it back as is),
    # the rest the forward's names for them (unique there, so here too)
    params_of = {id(a): p for a, p in zip(fwd.args, params, strict=True)}
    stash = []
    for r, kept in zip(fwd.results[adj.n_results:], residuals, strict=True):
        # (a name the driver gave a parameter the forward named otherwise: a fresh one)
        stash.append(params_of.get(id(r)) or (namer.fresh(kept) if kept in params else kept))
        namer.taken.add(stash[-1])
    results = [namer(r) for r in fwd.results[:adj.n_results]]
    seeds = [f"np.{DTYPES[fwd.results[k].type.dtype]}(1.0)" for k in adj.seeded]
    grads = [namer.fresh(adjoint(fwd.args[i].hint)) for i in adj.wrt]
    lhs = ", ".join(results + stash)    # a function of one result returns it bare
    return "\n".join([
        f"def {name}({', '.join(params)}):",
        "    # forward pass: the results, and the stash the backward pass reads"
        + (f" ({', '.join(stash)})" if stash else ""),
        f"    {lhs} = {identifier(fwd.name)}({', '.join(params)})",
        "    # backward pass, seeded with a cotangent of 1 for the differentiated result",
        f"    {', '.join(grads)} = "
        f"{identifier(bwd.name)}({', '.join(stash + seeds)})",
        f"    return {_tuple(results)}, {_tuple(grads)}",
    ])


class NumpyProgram:
    def __init__(self, adj, name: str):
        module = Module()
        for f in (adj.fwd, adj.bwd):
            if f.module is None:
                module.add(f)
        self.adj = adj
        self.name = identifier(adj.fwd.unused_name(name + "_grad"))
        self.source = generate(adj.fwd, adj.bwd, stash=adj,
                               epilogue=lambda stash: driver_source(adj, self.name, stash))
        ns = compile_source(self.source, name)
        # the generated functions, on flat arguments (bwd: residuals, then cotangents)
        self.functions = {"fwd": ns[identifier(adj.fwd.name)],
                          "bwd": ns[identifier(adj.bwd.name)], "grad": ns[self.name]}

    def fwd(self, *args):
        out = raising_where_a_result_is_nan(lambda: self.functions["fwd"](*args))
        out = out if len(self.adj.fwd.results) != 1 else (out,)
        return out[:self.adj.n_results], out[self.adj.n_results:]

    def bwd(self, residuals, cotangents):
        out = raising_where_a_result_is_nan(lambda: self.functions["bwd"](*residuals,
                                                                          *cotangents))
        return out if len(self.adj.bwd.results) != 1 else (out,)

    def grad(self, *args):
        return raising_where_a_result_is_nan(lambda: self.functions["grad"](*args),
                                             values=self.adj.n_results)
