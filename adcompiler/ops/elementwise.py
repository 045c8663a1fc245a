"""Elementwise ops. Differentiable math is declared as a SymPy expression in the op's
parameters; its VJP is derived by `sympy.diff` (see `adcompiler/ad/sympy_vjp.py`).
Operands of a binary op share one dtype (the frontend inserts NumPy's promotions as explicit
`astype`) and broadcast as in NumPy.
"""
import sympy as sp

from ..ir.types import TensorType
from .family import broadcast_rule, check, declare

x, y = sp.symbols("x y")

FLOAT_UNARY = broadcast_rule(floats_only=True)
SAME = broadcast_rule()
BOOL_OUT = broadcast_rule(out_dtype="bool")
BOOL_ONLY = broadcast_rule(operand_dtype="bool")


def unary(name, expr, numpy, infer=FLOAT_UNARY):
    return declare(name, infer, arity=1, kind="elementwise", sympy=((x,), expr),
                   lower={"numpy": numpy})


def binary(name, expr, numpy, infer=SAME):
    return declare(name, infer, arity=2, kind="elementwise", sympy=((x, y), expr),
                   lower={"numpy": numpy})


def nondiff(name, arity, numpy, infer=SAME):
    return declare(name, infer, arity=arity, kind="elementwise", nondiff=True,
                   lower={"numpy": numpy})


unary("neg", -x, "-{0}", infer=SAME)
unary("exp", sp.exp(x), "np.exp({0})")
unary("log", sp.log(x), "np.log({0})")
unary("log1p", sp.log(1 + x), "np.log1p({0})")
unary("expm1", sp.exp(x) - 1, "np.expm1({0})")
unary("sqrt", sp.sqrt(x), "np.sqrt({0})")
unary("tanh", sp.tanh(x), "np.tanh({0})")
unary("sin", sp.sin(x), "np.sin({0})")
unary("cos", sp.cos(x), "np.cos({0})")
unary("tan", sp.tan(x), "np.tan({0})")
unary("arcsin", sp.asin(x), "np.arcsin({0})")
unary("arccos", sp.acos(x), "np.arccos({0})")
unary("arctan", sp.atan(x), "np.arctan({0})")
unary("sinh", sp.sinh(x), "np.sinh({0})")
unary("cosh", sp.cosh(x), "np.cosh({0})")
unary("abs", sp.Abs(x), "np.abs({0})", infer=SAME)

binary("add", x + y, "{0} + {1}")
binary("sub", x - y, "{0} - {1}")
binary("mul", x * y, "{0} * {1}")
binary("div", x / y, "{0} / {1}", infer=broadcast_rule(floats_only=True))
binary("pow", x ** y, "{0} ** {1}")
binary("maximum", sp.Max(x, y), "np.maximum({0}, {1})")
binary("minimum", sp.Min(x, y), "np.minimum({0}, {1})")

nondiff("sign", 1, "np.sign({0})")
nondiff("floor", 1, "np.floor({0})", infer=FLOAT_UNARY)
nondiff("floordiv", 2, "{0} // {1}")
nondiff("mod", 2, "{0} % {1}")
nondiff("lt", 2, "{0} < {1}", infer=BOOL_OUT)
nondiff("le", 2, "{0} <= {1}", infer=BOOL_OUT)
nondiff("gt", 2, "{0} > {1}", infer=BOOL_OUT)
nondiff("ge", 2, "{0} >= {1}", infer=BOOL_OUT)
nondiff("eq", 2, "{0} == {1}", infer=BOOL_OUT)
nondiff("ne", 2, "{0} != {1}", infer=BOOL_OUT)
nondiff("logical_and", 2, "np.logical_and({0}, {1})", infer=BOOL_ONLY)
nondiff("logical_or", 2, "np.logical_or({0}, {1})", infer=BOOL_ONLY)
nondiff("logical_not", 1, "np.logical_not({0})", infer=BOOL_ONLY)


def _where(types, attrs):
    c, a, b = types
    check(c.dtype == "bool", f"condition must be bool, got {c.dtype}")
    return [TensorType(SAME([a, b], attrs)[0].dtype, broadcast_rule()([c.with_dtype(a.dtype), a, b], attrs)[0].shape)]


declare("where", _where, arity=3, kind="elementwise", lower={"numpy": "np.where({0}, {1}, {2})"})
declare("astype", lambda ts, a: [ts[0].with_dtype(a["dtype"])], attrs=("dtype",), arity=1,
        kind="elementwise", lower={"numpy": "{0}.astype({dtype})"})
