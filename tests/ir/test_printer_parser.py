"""The IR text form: printing is deterministic, `parse` reads it back to an equal function, and
malformed text gives an `IRParseError` naming the line.

Each function below is built with the Builder; `round_trip` prints it, parses the text, prints
again and checks (1) the two texts are identical, (2) the parsed function equals the original
structurally (compared op by op by `assert_same_ir`, which does not use the printer), (3) the
verifier accepts both and (4) both evaluate to the same values with NumPy.
"""
import math

import numpy as np
import pytest

import adcompiler
from adcompiler.ir import (Block, Builder, Function, IRParseError, Module, TensorType, parse,
                           verify)
from adcompiler.ir import registry

F64, F32, I64, BOOL = "f64", "f32", "i64", "bool"


def T(dtype, *shape):
    return TensorType(dtype, shape)


# ---------------------------------------------------------------- structural comparison

def _same_attr(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_attr(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _basename(loc):
    return None if loc is None else (loc[0].replace("\\", "/").rsplit("/", 1)[-1], loc[1])


def assert_same_ir(f, g, where="") -> None:
    """f and g have the same ops, attributes, types, locations and def-use edges."""
    numbering_f, numbering_g = {}, {}

    def define(values_f, values_g, what):
        assert [v.type for v in values_f] == [v.type for v in values_g], f"{where}{what}: types"
        for vf, vg in zip(values_f, values_g, strict=True):
            numbering_f[id(vf)] = numbering_g[id(vg)] = len(numbering_f)

    def block(bf, bg, path):
        define(bf.args, bg.args, f"{path} arguments")
        assert [op.name for op in bf.ops] == [op.name for op in bg.ops], f"{where}{path}: ops"
        for k, (of, og) in enumerate(zip(bf.ops, bg.ops, strict=True)):
            here = f"{where}{path}/{k}:{of.name}"
            assert [numbering_f[id(v)] for v in of.operands] == \
                   [numbering_g[id(v)] for v in og.operands], f"{here}: operands"
            assert list(of.attrs) == list(og.attrs), f"{here}: attribute names"
            for key in of.attrs:
                assert _same_attr(of.attrs[key], og.attrs[key]), \
                    f"{here}: attribute {key}: {of.attrs[key]!r} != {og.attrs[key]!r}"
            assert _basename(of.loc) == _basename(og.loc), f"{here}: loc"
            assert len(of.regions) == len(og.regions), f"{here}: regions"
            for r, (rf, rg) in enumerate(zip(of.regions, og.regions, strict=True)):
                block(rf, rg, f"{here}/region{r}")
            define(of.results, og.results, f"{here} results")

    assert f.name == g.name
    assert _basename(f.loc) == _basename(g.loc)
    block(f.body, g.body, f"@{f.name}")


def _inputs(fn, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a in fn.args:
        dtype = np.dtype(adcompiler.ir.DTYPES[a.type.dtype])
        if a.type.dtype == BOOL:
            out.append(rng.random(a.type.shape) < 0.5)
        elif a.type.dtype in ("i64", "i32"):
            out.append(rng.integers(1, 3, a.type.shape).astype(dtype))
        else:
            out.append(rng.uniform(0.1, 0.9, a.type.shape).astype(dtype))
    return out


def _results(fn, args):
    out = adcompiler.evaluate(fn, *args)
    return out if len(fn.results) != 1 else (out,)


def round_trip(fn, args=None):
    verify(fn)
    text = str(fn)
    assert str(fn) == text, "printing twice differs"
    g = parse(text)
    assert str(g) == text
    assert g == fn
    assert_same_ir(fn, g)
    if fn.module is not None:
        assert sorted(g.module.functions) == sorted(f.name for f in [fn] + fn.callees())
        for callee in fn.callees():
            assert_same_ir(callee, g.module.functions[callee.name], where="callee ")
    verify(g)
    if args is not None:
        with np.errstate(all="ignore"):
            expected, got = _results(fn, args), _results(g, args)
        for e, r in zip(expected, got, strict=True):
            np.testing.assert_array_equal(np.asarray(r), np.asarray(e))
    return g


def new_function(name, arg_types, hints, line=1):
    block = Block(arg_types, hints=hints)
    return block, Builder(block, loc=("model.py", line))


def finish(name, block, b, *results, line=1):
    b.op("return", *results)
    return Function(name, block, loc=("model.py", line))


# ---------------------------------------------------------------- the functions

UNARY_FLOAT = ["neg", "exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "tan",
               "arcsin", "arccos", "arctan", "sinh", "cosh", "abs", "sign", "floor", "log2",
               "log10", "exp2", "erf", "erfc", "gammaln", "gamma",
               "ndtri", "erfinv", "expit", "arcsinh", "arccosh", "arctanh", "ceil",
               "trunc", "rint", "cbrt"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "arctan2", "hypot",
          "logaddexp", "fmod", "copysign"]
COMPARE = ["lt", "le", "gt", "ge", "eq", "ne"]


def elementwise_fn():
    block, b = new_function("elementwise", [T(F64, 2, 3), T(F64, 3), T(BOOL, 2, 3), T(I64, 2, 3),
                                            T(I64, 3)], ["x", "y", "p", "k", "m"])
    x, y, p, k, m = block.args
    acc = x
    for line, name in enumerate(UNARY_FLOAT, start=2):
        b.loc = ("model.py", line)
        acc = b.op("add", acc, b.op(name, x, hint=name), hint="acc")
    for name in BINARY:
        acc = b.op("add", acc, b.op(name, x, y), hint="acc")
    mask = p
    for name in COMPARE:
        mask = b.op("logical_and", mask, b.op(name, x, y), hint="mask")
    mask = b.op("logical_or", b.op("logical_not", mask), p, hint="mask")
    for name in ("isnan", "isinf", "isfinite"):
        mask = b.op("logical_and", mask, b.op(name, acc), hint="mask")
    ints = b.op("add", b.op("floordiv", k, m), b.op("mod", k, m), hint="ints")
    picked = b.op("where", p, b.op("stop_gradient", acc), y, hint="picked")
    floats = b.op("astype", ints, dtype=F64, hint="floats")
    return finish("elementwise", block, b, picked, mask, ints, floats)


def reduce_shape_fn():
    block, b = new_function("shapes", [T(F32, 2, 3, 4), T(F32, 3, 1), T(F32, 4, 5)],
                            ["x", "y", "w"])
    x, y, w = block.args
    outs = [b.op("sum", x, axes=(0,), keepdims=False, hint="s"),
            b.op("prod", x, axes=(-1,), keepdims=True, hint="p"),
            b.op("max", x, axes=(0, 2), keepdims=False, hint="mx"),
            b.op("min", x, axes=(), keepdims=False, hint="mn"),
            b.op("argmax", x, axis=1, keepdims=False, hint="am"),
            b.op("argmin", x, axis=-1, keepdims=True, hint="an"),
            b.op("cumsum", x, axis=-2, hint="cs"),
            b.op("argsort", x, axis=-1, hint="order"),
            b.op("reshape", x, shape=(4, 6), hint="r"),
            b.op("transpose", x, perm=(2, 0, 1), hint="tr"),
            b.op("broadcast_to", y, shape=(2, 3, 4), hint="bc"),
            b.op("concatenate", x, x, x, axis=-1, hint="cat"),
            b.op("matmul", x, w, hint="mm")]
    return finish("shapes", block, b, *outs)


def linalg_fn():
    block, b = new_function("linalg", [T(F64, 2, 3, 3), T(F64, 3, 1), T("f32", 2, 2)],
                            ["a", "rhs", "s"])
    a, rhs, s = block.args
    outs = [b.op("inv", a, hint="ai"), b.op("solve", a, rhs, hint="x"),
            b.op("det", a, hint="d"), b.op("logabsdet", a, hint="ld"),
            b.op("detsign", a, hint="sg"), b.op("cofactor", a, hint="cf"),
            b.op("cholesky", b.op("matmul", s, b.op("transpose", s, perm=(1, 0))),  # s s^T:
                 hint="l"),                                                      # pos. definite
            b.op("eigh_values", a, uplo="L", hint="w"), b.op("eigh_vectors", s, uplo="U", hint="v"),
            b.op("svd_values", rhs, hint="sv"), b.op("svd_u", a, hint="u"),
            b.op("svd_vt", rhs, hint="vt"), b.op("qr_q", rhs, hint="q"), b.op("qr_r", a, hint="r"),
            b.op("correlate", b.op("reshape", rhs, shape=(3,)),
                 b.op("slice", b.op("reshape", rhs, shape=(3,)), starts=(0,), stops=(2,),
                      steps=(1,)), hint="cor"), b.op("correlate", a, a, hint="cor3")]
    return finish("linalg", block, b, *outs)


def _norm(n, s):
    return s.indices(n)


def index_fn():
    block, b = new_function("index", [T(F64, 5, 4), T(I64, 2, 2), T(I64, 3), T(F64, 3, 2),
                                      T(F64, 5, 3), T(F64, 3, 4)], ["x", "i", "j", "v", "u", "r"])
    x, i, j, v, u, r = block.args
    rev = list(zip(_norm(5, slice(None, None, -1)), _norm(4, slice(1, None, 2)), strict=True))
    empty = list(zip(_norm(5, slice(-10, None, -1)), _norm(4, slice(None)), strict=True))
    upd = list(zip(_norm(5, slice(3, 0, -1)), _norm(4, slice(None, None, 2)), strict=True))
    outs = [b.op("slice", x, starts=rev[0], stops=rev[1], steps=rev[2], hint="rev"),
            b.op("slice", x, starts=empty[0], stops=empty[1], steps=empty[2], hint="empty"),
            b.op("update_slice", x, v, starts=upd[0], stops=upd[1], steps=upd[2], hint="upd"),
            b.op("take", x, i, axis=1, hint="g"),
            b.op("scatter_add", x, j, u, axis=1, hint="sc"),
            b.op("scatter_add", x, j, r, axis=0, hint="sc0"),
            b.op("put", x, j, u, axis=-1, hint="pt"),
            b.op("put", x, j, r, axis=0, hint="pt0")]
    return finish("index", block, b, *outs)


CONSTANTS = [(1.5, F64), (-3, I64), (True, BOOL), (2.5, "f32"), (0.1, "f16"), (7, "i32"),
             (1e-300, F64), (1e16, F64), (-0.0, F64),
             (float("inf"), F64), (float("-inf"), F64), (float("nan"), F64),
             (((1.0, 2.0), (3.0, 4.0)), F64),
             (((float("inf"), float("-inf")), (float("nan"), 0.5)), F64),
             ((((1, 2),), ((3, 4),)), I64), ((True, False), BOOL), ((), F64)]


def constants_fn():
    block, b = new_function("constants", [], [])
    outs = [b.op("constant", value=v, dtype=d, hint="c") for v, d in CONSTANTS]
    outs += [b.op("iota", shape=(3, 4), axis=1, dtype=I64, hint="io"),
             b.op("iota", shape=(2, 3), axis=-2, dtype=F32, hint="io")]
    return finish("constants", block, b, *outs)


def control_fn():
    """An if whose branches hold a for (with an if inside) and a while (with a for inside)."""
    block, b = new_function("control", [T(F64, 3), T(I64), T(BOOL)], ["x", "n", "c"])
    x, n, c = block.args
    with b.region() as then:
        with b.region([T(I64), x.type], hints=["i", "acc"]) as body:
            i, acc = body.args
            big = b.op("gt", b.op("sum", acc, axes=(0,), keepdims=False),
                       b.op("constant", value=10.0, dtype=F64), hint="big")
            with b.region() as t2:
                b.op("yield", b.op("mul", acc, acc, hint="acc"))
            with b.region() as e2:
                b.op("yield", b.op("add", acc, acc, hint="acc"))
            nxt = b.emit("if", [big], result_types=[acc.type], regions=[t2, e2],
                         hints=["acc"]).result
            b.op("yield", nxt)
        loop = b.emit("for", [n, x], result_types=[x.type], regions=[body], hints=["acc"])
        b.op("yield", loop.result)
    with b.region() as other:
        with b.region([x.type, T(I64)], hints=["y", "k"]) as cond:
            y, k = cond.args
            b.op("condition", b.op("lt", b.op("max", y, axes=(0,), keepdims=False),
                                   b.op("constant", value=100.0, dtype=F64)))
        with b.region([x.type, T(I64)], hints=["y", "k"]) as wbody:
            y, k = wbody.args
            with b.region([T(I64), x.type], hints=["j", "z"]) as inner:
                b.op("yield", b.op("add", inner.args[1], b.op("exp", inner.args[1]), hint="z"))
            z = b.emit("for", [k, y], result_types=[x.type], regions=[inner], hints=["z"]).result
            b.op("yield", z, b.op("add", k, b.op("constant", value=1, dtype=I64), hint="k"))
        one = b.op("constant", value=1, dtype=I64, hint="one")
        wl = b.emit("while", [x, one], result_types=[x.type, T(I64)], regions=[cond, wbody],
                    hints=["y", "k"])
        b.op("yield", wl.results[0])
    r = b.emit("if", [c], result_types=[x.type], regions=[then, other], hints=["r"]).result
    # an if and a for with no results (dead, but well-formed) print and parse too
    with b.region() as t3:
        b.op("yield")
    with b.region() as e3:
        b.op("yield")
    b.emit("if", [c], result_types=[], regions=[t3, e3])
    with b.region([T(I64)], hints=["i"]) as empty_body:
        b.op("yield")
    b.emit("for", [n], result_types=[], regions=[empty_body])
    return finish("control", block, b, r)


def module_fn():
    """@main calls @helper twice; @helper has two results."""
    module = Module()
    hb, b = new_function("helper", [T(F64, 3), T(F64, 3)], ["a", "w"], line=10)
    a, w = hb.args
    prod = b.op("mul", a, w, hint="h")
    helper = module.add(finish("helper", hb, b, prod, b.op("sum", prod, axes=(0,),
                                                           keepdims=False, hint="s"), line=10))
    mb, b = new_function("main", [T(F64, 3), T(F64, 3)], ["x", "w"])
    x, w = mb.args
    h, s = b.emit("call", [x, w], {"callee": "helper"}, result_types=helper.result_types,
                  hints=["h", "s"]).results
    h2, s2 = b.emit("call", [h, w], {"callee": "helper"}, result_types=helper.result_types,
                    hints=["h", "s"]).results
    return module.add(finish("main", mb, b, b.op("add", s, s2, hint="total"), h2))


BUILDERS = [elementwise_fn, reduce_shape_fn, linalg_fn, index_fn, constants_fn, control_fn,
            module_fn]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_round_trip(build):
    fn = build()
    round_trip(fn, _inputs(fn))


def test_every_op_is_covered():
    """Each op of the kinds below appears in some round-tripped function: a newly declared op
    fails here until it is added to one."""
    used = {op.name for build in BUILDERS for fn in [build()]
            for f in [fn] + (fn.callees() if fn.module else []) for op in f.walk()}
    kinds = {"elementwise", "reduce", "shape", "index", "linalg", "create", "control", "call"}
    missing = sorted(name for name, d in registry.all_ops().items()
                     if d.kind in kinds and name not in used)
    assert not missing, f"add these ops to a function in test_printer_parser.py: {missing}"


# ---------------------------------------------------------------- text details

DESIGN_EXAMPLE = """\
func @loss(%x: f64[8], %w: f64[8], %t: f64[]) -> (f64[]) {  # model.py:1
  %z = mul %x, %w : f64[8]                  # model.py:3
  %h = tanh %z : f64[8]                     # model.py:4
  %s = sum %h {axes=[0], keepdims=false} : f64[]  # model.py:4
  %l = mul %s, %s : f64[]
  return %l
}
"""


def test_golden_text():
    block, b = new_function("loss", [T(F64, 8), T(F64, 8), T(F64)], ["x", "w", "t"])
    x, w, _ = block.args
    b.loc = ("/home/user/model.py", 3)          # printed as the file's base name
    z = b.op("mul", x, w, hint="z")
    b.loc = ("/home/user/model.py", 4)
    s = b.op("sum", b.op("tanh", z, hint="h"), axes=[0], keepdims=False, hint="s")
    b.loc = None
    fn = finish("loss", block, b, b.op("mul", s, s, hint="l"))
    assert str(fn) == DESIGN_EXAMPLE
    g = parse(DESIGN_EXAMPLE)
    assert g == fn and str(g) == DESIGN_EXAMPLE
    assert [op.loc for op in g.walk()] == [("model.py", 3), ("model.py", 4), ("model.py", 4),
                                           None, None]
    assert g.loc == ("model.py", 1)
    x = np.linspace(-1, 1, 8)
    np.testing.assert_allclose(adcompiler.evaluate(g, x, x + 1, 0.0),
                               np.sum(np.tanh(x * (x + 1))) ** 2)


def test_names_are_uniquified_deterministically():
    def build():
        block, b = new_function("f", [T(F64, 2)], ["h"])
        (x,) = block.args
        vals = [b.op("exp", x, hint="h"), b.op("exp", x, hint="h"), b.op("exp", x, hint="h_1"),
                b.op("exp", x, hint="h"), b.op("exp", x), b.op("exp", x)]
        return finish("f", block, b, *vals)

    text = str(build())
    assert text == str(build())
    lines = text.splitlines()
    assert lines[0].startswith("func @f(%h: f64[2])")
    assert [ln.split(" = ")[0].strip() for ln in lines[1:7]] == \
        ["%h_1", "%h_2", "%h_1_1", "%h_3", "%exp", "%exp_1"]
    round_trip(build())


def test_hints_that_are_not_names_print_parseably():
    block, b = new_function("f", [T(F64, 2)], ["params['w']"])
    (x,) = block.args
    y = b.op("exp", x, hint="layers.0.h")
    z = b.op("exp", y, hint="a b")
    text = str(finish("f", block, b, z))
    assert "%params__w__" in text and "%layers.0.h" in text and "%a_b" in text
    block, b = new_function("f", [T(F64, 2)], ["params['w']"])
    round_trip(finish("f", block, b, b.op("exp", b.op("exp", block.args[0], hint="layers.0.h"),
                                          hint="a b")))


def test_locs_survive():
    block, b = new_function("f", [T(F64, 2)], ["x"])
    (x,) = block.args
    v = x
    for line in (3, 7, 7, 12):
        b.loc = ("src/model.py", line)
        v = b.op("exp", v, hint="v")
    with b.region() as then:
        b.loc = ("model.py", 21)
        b.op("yield", b.op("neg", v))
    with b.region() as other:
        b.loc = None
        b.op("yield", v)
    b.loc = ("model.py", 20)
    c = b.op("gt", b.op("sum", v, axes=(0,), keepdims=False), b.op("constant", value=0.0,
                                                                     dtype=F64))
    r = b.emit("if", [c], result_types=[v.type], regions=[then, other]).result
    g = round_trip(finish("f", block, b, r, line=30))
    assert [op.loc for op in g.walk()] == [("model.py", n) for n in (3, 7, 7, 12, 20, 20, 20, 20,
                                                                     21, 21)] + [None, ("model.py", 20)]
    assert g.loc == ("model.py", 30)


def test_loc_comment_not_part_of_attrs():
    text = ("func @f(%x: f64[3]) -> (f64[]) {\n"
            "  %s = sum %x {axes=[-1], keepdims=false} : f64[]      #   model.py:3  \n"
            "  return %s\n}\n")
    g = parse(text)
    (op, _) = g.body.ops
    assert op.loc == ("model.py", 3) and op.attrs == {"axes": (-1,), "keepdims": False}


def prints_and_asserts(x):
    assert np.all(x > 0), "NaN"
    print("it's, \"quoted\", # a:1 {}", x)
    print("Infinity", x[0])
    return x * 2


def test_string_attrs_of_both_quotes_and_float_words_and_spaced_file_names_read_back():
    """A message with both quotes and a comma after the escaped one was split there (a raw
    SyntaxError), a message 'NaN' or 'Infinity' printed bare was read back as a float, and a
    file name with a space left its `# file:line` comment in the op's text."""
    fn = adcompiler.trace(prints_and_asserts, np.array([1.0, 2.0]))
    g = round_trip(fn, [np.array([1.0, 2.0])])
    assert {op.attrs.get("message", op.attrs.get("format")) for op in g.walk()
            if op.name in ("assert", "print")} >= {"NaN", "Infinity {!s}"}
    spaced = str(fn).replace("test_printer_parser.py:", "my model.py:")
    assert [op.loc for op in parse(spaced).walk() if op.loc][0][0] == "my model.py"
    broken = str(fn).replace("quoted", "quoted'", 1)
    with pytest.raises(IRParseError, match="line"):
        parse(broken)


def test_parse_reads_several_functions_and_string_attrs():
    text = str(module_fn())
    g = parse(text)
    assert g.name == "main" and set(g.module.functions) == {"main", "helper"}
    assert g.module.functions["helper"].module is g.module


# ---------------------------------------------------------------- parse errors

GOOD = """\
func @f(%x: f64[3], %n: i64[]) -> (f64[]) {
  %y = exp %x : f64[3]
  %s = sum %y {axes=[0], keepdims=false} : f64[]
  return %s
}
"""


def test_good_text_parses():
    verify(parse(GOOD))


@pytest.mark.parametrize("old, new, line, message", [
    ("exp %x", "exp %q", 2, "undefined value %q"),
    ("sum %y", "sum %z", 3, "undefined value %z"),
    ("return %s", "return %t", 4, "undefined value %t"),
    ("%s = sum", "%y = sum", 3, "defined twice"),
    ("%n: i64[]", "%x: i64[]", 1, "defined twice"),
    ("exp %x : f64[3]", "exp %x : f99[3]", 2, "f99"),
    ("exp %x : f64[3]", "exp %x : f64[3", 2, ""),
    ("exp %x : f64[3]", "exp %x", 2, "names for 0 results"),
    ("exp %x", "exp %x, 3", 2, "expected %values"),
    ("{axes=[0], keepdims=false}", "{axes=[0, keepdims=false}", 3, "attribute"),
    ("{axes=[0], keepdims=false}", "{axes=[0], keepdims=false", 3, ""),
    ("%n: i64[]", "%n i64[]", 1, "bad parameters"),
    ("%n: i64[]", "%n: i64[2", 1, ""),
    ("-> (f64[])", "-> (f64[3])", 1, "declared results"),
    ("func @f", "fun @f", 1, "expected 'func"),
    ("  return %s\n}\n", "  return %s\n", 4, "end of text"),
])
def test_parse_errors_name_the_line(old, new, line, message):
    assert GOOD.count(old) == 1
    with pytest.raises(IRParseError, match=rf"^line {line}: .*{message}"):
        parse(GOOD.replace(old, new))


CONTROL = """\
func @g(%x: f64[], %n: i64[], %c: bool[]) -> (f64[]) {
  %r = if %c : f64[] {
    yield %x
  } else {
    %a = for %i in range(%n) carry(%b = %x) : f64[] {
      %d = add %b, %b : f64[]
      yield %d
    }
    yield %a
  }
  %w = while carry(%u = %r) : f64[] {
    %p = lt %u, %x : bool[]
    condition %p
  } do(%v) {
    yield %v
  }
  %k = call @h(%w) : f64[]
  return %k
}

func @h(%x: f64[]) -> (f64[]) {
  return %x
}
"""


def test_control_text_parses():
    g = parse(CONTROL)
    verify(g)
    assert str(parse(str(g))) == str(g)


@pytest.mark.parametrize("old, new, line, message", [
    ("  } else {\n", "", 2, "else"),
    ("  } do(%v) {\n", "  } then(%v) {\n", 11, "do"),
    ("range(%n)", "range(%q)", 5, "undefined value %q"),
    ("carry(%b = %x)", "carry(%b = %zz)", 5, "undefined value %zz"),
    ("for %i in range", "for %i range", 5, "bad for loop"),
    ("while carry(%u = %r)", "while carry(%u = %nope)", 11, "undefined value %nope"),
    ("call @h(%w)", "call @nothere(%w)", 17, "undefined function @nothere"),
    ("call @h(%w)", "call @h(%w", 17, "bad call"),
    ("%d = add %b, %b", "%i = add %b, %b", 6, "defined twice"),
    ("} do(%v) {", "} do(%u) {", 14, "defined twice"),
    ("} do(%v) {", "} do(%v, %v2) {", 14, "names 2 values for 1 carried"),
    ("return %x\n}\n", "return %x\n", 22, "end of text"),
])
def test_control_parse_errors_name_the_line(old, new, line, message):
    assert CONTROL.count(old) == 1
    with pytest.raises(IRParseError, match=rf"^line {line}: .*{message}"):
        parse(CONTROL.replace(old, new))


def test_empty_text():
    with pytest.raises(IRParseError, match="no function"):
        parse("\n  \n")
