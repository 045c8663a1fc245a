"""SymPy expressions <-> IR, for elementwise math.

- `derivatives(params, expr)`: the partial derivatives of an elementwise expression, from
  `sympy.diff`, common-subexpression-eliminated (cached per expression).
- `emit(b, expr, env, dtype)`: builds IR ops computing a SymPy expression, elementwise, where
  `env` maps SymPy (sub)expressions to Values already computed (the op's operands, and its
  result so `d tanh(x) = 1 - tanh(x)**2` reuses the forward `tanh`).
- `elementwise_vjp`: the VJP rule of every op declared from a SymPy expression.
- `expression(name)`: (params, expression) of such an op, parsed from its declared text.
SymPy is imported when a derivative is first needed, not with adcompiler (it takes 0.3 s, a
good part of a warm start whose adjoint comes from the disk cache).
Function names map to ops through the registry's own SymPy declarations (`tanh(x)` -> `tanh`),
so there is no second table of ops here.
"""
from __future__ import annotations

from functools import lru_cache

from ..ir import registry
from .emit import const, sum_to


@lru_cache(maxsize=None)
def expression(name):
    """(params, SymPy expression) of the elementwise op `name`, from its declared text."""
    import sympy as sp
    opdef = registry.get(name)
    params = sp.symbols("x y")[:opdef.arity]
    return params, sp.sympify(opdef.sympy, locals={p.name: p for p in params})


@lru_cache(maxsize=None)
def special_functions():
    """NumPy's log1p and expm1 as SymPy functions: SymPy writes them log(1 + x) and exp(x) - 1,
    which lose the precision near 0 they exist for, so an elementwise function's np.log1p would
    not lower back to the log1p op."""
    import sympy as sp

    class log1p(sp.Function):
        def fdiff(self, argindex=1):
            return 1 / (1 + self.args[0])

    class expm1(sp.Function):
        def fdiff(self, argindex=1):
            return sp.exp(self.args[0])

    return {"log1p": log1p, "expm1": expm1}


@lru_cache(maxsize=None)
def _function_ops():
    """SymPy function class -> op name, read from the elementwise ops' declarations."""
    import sympy as sp
    out = {cls: name for name, cls in special_functions().items()}
    for name, opdef in registry.all_ops().items():
        if opdef.sympy and opdef.arity == 1:
            (x,), expr = expression(name)
            if isinstance(expr, sp.Function) and expr.args == (x,) or isinstance(expr, sp.Abs):
                out[type(expr)] = name
    return out


@lru_cache(maxsize=None)
def derivatives(params, expr):
    """((replacements, derivative per param)) with common subexpressions pulled out."""
    import sympy as sp
    real = {p: sp.Symbol(p.name, real=True) for p in params}
    e = expr.xreplace(real)
    # no sp.simplify: it rewrites 1 - tanh(x)**2 as cosh(x)**-2, losing the reuse of tanh(x)
    # powsimp turns d x**y/dx = y*x**y/x into y*x**(y-1), which has no 0/0 at x = 0
    ds = [sp.powsimp(sp.diff(e, real[p])) for p in params]
    back = {v: k for k, v in real.items()}
    repl, ds = sp.cse([d.xreplace(back) for d in ds])
    return tuple(repl), tuple(ds)


class _Emitter:
    def __init__(self, b, env, dtype):
        self.b, self.env, self.dtype = b, dict(env), dtype

    def __call__(self, e):
        if e in self.env:
            return self.env[e]
        v = self.build(e)
        self.env[e] = v
        return v

    def num(self, value):
        return const(self.b, float(value), self.dtype)

    def build(self, e):
        import sympy as sp
        b = self.b
        if e.is_number:                      # 2, pi, log(2), sqrt(pi): a constant
            return self.num(sp.N(e))
        if isinstance(e, sp.Add):
            pos = [t for t in e.args if not t.could_extract_minus_sign()]
            neg = [-t for t in e.args if t.could_extract_minus_sign()]
            acc = self(pos[0]) if pos else b.op("neg", self(neg.pop(0)))
            for t in pos[1:]:
                acc = b.op("add", acc, self(t))
            for t in neg:
                acc = b.op("sub", acc, self(t))
            return acc
        if isinstance(e, sp.Mul):
            num, den = sp.fraction(e)
            if den != 1:
                return b.op("div", self(num), self(den))
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                return b.op("neg", self(rest))
            acc = None
            for t in e.args:
                acc = self(t) if acc is None else b.op("mul", acc, self(t))
            return acc
        if isinstance(e, sp.Pow):
            base, exp = e.args
            if exp == sp.Rational(1, 2):
                return b.op("sqrt", self(base))
            if exp.is_Number and exp < 0:
                return b.op("div", self.num(1), self(base ** -exp))
            if exp == 2:
                x = self(base)
                return b.op("mul", x, x)
            return b.op("pow", self(base), self(exp))
        if isinstance(e, sp.Heaviside):       # d max(x, y)/dx: ties split the gradient (sign(0) = 0)
            s = b.op("sign", self(e.args[0]))
            return b.op("mul", b.op("add", s, self.num(1)), self.num(0.5))
        if isinstance(e, sp.DiracDelta):      # d sign(x)/dx, d heaviside: 0 but at 0 (JAX's 0)
            return self.num(0)
        if isinstance(e, (sp.Max, sp.Min)):   # n-ary in SymPy, binary ops in the IR
            name = "maximum" if isinstance(e, sp.Max) else "minimum"
            acc = self(e.args[0])
            for t in e.args[1:]:
                acc = b.op(name, acc, self(t))
            return acc
        ops = _function_ops()
        if type(e) in ops:
            return b.op(ops[type(e)], self(e.args[0]))
        raise NotImplementedError(f"cannot lower SymPy expression {e} to IR")


def emit(b, expr, env, dtype):
    return _Emitter(b, env, dtype)(expr)


def elementwise_vjp(b, op, cts, needs):
    """VJP of an op declared by a SymPy expression: ct * d expr / d operand, summed back to
    each operand's shape."""
    (ct,) = cts
    params, expr = expression(op.name)
    repl, ds = derivatives(params, expr)
    em = _Emitter(b, {**dict(zip(params, op.operands, strict=True)), expr: op.result},
                  ct.type.dtype)
    for sym, sub in repl:
        em.env[sym] = em(sub)
    out = []
    for operand, d, need in zip(op.operands, ds, needs, strict=True):
        if not need:
            out.append(None)
            continue
        g = ct if d == 1 else b.op("neg", ct) if d == -1 else b.op("mul", ct, em(d))
        out.append(sum_to(b, g, operand.type.shape))
    return out
