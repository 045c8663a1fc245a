"""Property test: the standard pipeline preserves what random chains of elementwise and shape
ops compute (constants included, so every pass has something to do)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import adcompiler
from adcompiler.ir import Block, Builder, Function, TensorType, parse
from adcompiler.ir.passes import run_passes
from ircheck import assert_same

UNARY = ["neg", "tanh", "sin", "exp", "abs"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]
# no computed divisors: dividing by a zero whose sign `x + 0 -> x` changed would flip an inf
DIVISORS = [1.0, 2.0, -1.0]
CONSTANTS = [0.0, 1.0, 2.0, -1.0, -0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 2.0, 3.0)]
RESHAPES = {1: [(), (1,)], 3: [(3,), (1, 3), (3, 1)], 6: [(6,), (2, 3), (3, 2)]}
ARGS = {"x": (3,), "m": (2, 3), "s": ()}


@st.composite
def programs(draw):
    body = Block([TensorType("f64", shape) for shape in ARGS.values()], hints=list(ARGS))
    b = Builder(body)
    pool = list(body.args)
    for value in draw(st.lists(st.sampled_from(CONSTANTS), min_size=1, max_size=4)):
        pool.append(b.op("constant", value=value, dtype="f64", hint="c"))
    if draw(st.booleans()):
        pool.append(b.op("broadcast_to", pool[-1], shape=(2, 3), hint="bc")
                    if pool[-1].type.rank == 0 else pool[-1])
    pick = st.sampled_from
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(pick(["unary", "binary", "binary", "div", "shape", "repeat"]))
        x = draw(pick(pool))
        try:
            if kind == "unary":
                y = b.op(draw(pick(UNARY)), x)
            elif kind == "binary":
                y = b.op(draw(pick(BINARY)), x, draw(pick(pool)))
            elif kind == "div":
                y = b.op("div", x, b.op("constant", value=draw(pick(DIVISORS)), dtype="f64"))
            elif kind == "shape":
                y = _shape_op(b, x, draw)
            else:
                op = draw(pick(body.ops))
                y = b.emit(op.name, op.operands, op.attrs).result   # a duplicate for CSE
        except ValueError:   # operands that do not broadcast
            continue
        pool.append(y)
    b.op("return", *pool[-draw(st.integers(1, 2)):])
    return Function("f", body)


def _shape_op(b, x, draw):
    choice = draw(st.sampled_from(["transpose", "reshape", "broadcast_to", "astype", "sum"]))
    if choice == "transpose":
        return b.op("transpose", x, perm=tuple(range(x.type.rank))[::-1])
    if choice == "reshape":
        return b.op("reshape", x, shape=draw(st.sampled_from(RESHAPES[x.type.size])))
    if choice == "broadcast_to":
        return b.op("broadcast_to", x, shape=x.type.shape)
    if choice == "astype":
        return b.op("astype", x, dtype="f64")
    return b.op("sum", x, axes=(), keepdims=False)


@settings(max_examples=150, deadline=None)
@given(programs(), st.integers(0, 2**32 - 1))
def test_pipeline_preserves_results(fn, seed):
    text = str(fn)
    original, optimised = parse(text), run_passes(parse(text), verify=True)
    assert len(list(optimised.walk())) <= len(list(original.walk()))
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(shape)[()] for shape in ARGS.values()]
    with np.errstate(all="ignore"):
        assert_same(adcompiler.evaluate(original, *inputs),
                    adcompiler.evaluate(optimised, *inputs))


@st.composite
def loops(draw):
    """A `for` loop whose carried values update from random others (some inside an `if`),
    returning a random subset of them: exercises dropping unused carried values."""
    k = draw(st.integers(1, 5))
    scalar = TensorType("f64")
    body_fn = Block([scalar, TensorType("bool"), TensorType("i64")], hints=["x", "c", "n"])
    b = Builder(body_fn)
    x, c, n = body_fn.args
    with b.region([TensorType("i64")] + [scalar] * k) as body:
        carried = body.args[1:]
        nxt = []
        for _ in range(k):
            srcs = draw(st.lists(st.sampled_from(carried), min_size=1, max_size=3))
            v = srcs[0]
            for s in srcs[1:]:
                v = b.op(draw(st.sampled_from(["add", "mul", "maximum"])), v, s)
            if draw(st.booleans()):
                with b.region() as then:
                    b.op("yield", b.op("sin", v))
                with b.region() as other:
                    b.op("yield", draw(st.sampled_from(carried)))
                v = b.emit("if", [c], result_types=[scalar], regions=[then, other]).result
            nxt.append(b.op("tanh", v))
        b.op("yield", *nxt)
    loop = b.emit("for", [n] + [x] * k, result_types=[scalar] * k, regions=[body])
    outs = draw(st.lists(st.sampled_from(loop.results), min_size=1, max_size=k, unique=True))
    b.op("return", *outs)
    return Function("f", body_fn)


@settings(max_examples=100, deadline=None)
@given(loops(), st.floats(-2, 2), st.booleans(), st.integers(0, 3))
def test_dce_of_loops_preserves_results(fn, x, c, n):
    text = str(fn)
    original, optimised = parse(text), run_passes(parse(text), ["dce"], verify=True)
    inputs = [np.float64(x), np.bool_(c), np.int64(n)]
    assert_same(adcompiler.evaluate(original, *inputs), adcompiler.evaluate(optimised, *inputs))
