"""The verifier: each kind of malformed IR is rejected with a `VerifyError` whose message names
the op and the user's source line (`'mul' at model.py:3: ...`).

Most cases edit one line of a well-formed IR text (which the parser accepts: it takes types
from the text and does not check scopes); cases the text form cannot express (a use before
the definition, a callee missing from the module) are built with the Builder.
"""
import pytest

from adcompiler.ir import (Block, Builder, Function, Module, TensorType, VerifyError, parse,
                           verify)

GOOD = """\
func @f(%x: f64[3], %n: i64[], %c: bool[], %s: f64[]) -> (f64[3], f64[]) {  # model.py:1
  %y = exp %x : f64[3]                                        # model.py:2
  %z = mul %y, %x : f64[3]                                    # model.py:3
  %r = if %c : f64[3] {                                       # model.py:4
    %t = neg %z : f64[3]                                      # model.py:5
    yield %t                                                  # model.py:5
  } else {
    yield %z                                                  # model.py:6
  }
  %a = for %i in range(%n) carry(%b = %s) : f64[] {           # model.py:7
    %d = add %b, %b : f64[]                                   # model.py:8
    yield %d                                                  # model.py:8
  }
  %w = while carry(%u = %a) : f64[] {                         # model.py:9
    %p = lt %u, %s : bool[]                                   # model.py:10
    condition %p                                              # model.py:10
  } do(%v) {
    %e = mul %v, %v : f64[]                                   # model.py:11
    yield %e                                                  # model.py:11
  }
  %k = call @g(%r) : f64[3]                                   # model.py:12
  return %k, %w                                               # model.py:13
}

func @g(%q: f64[3]) -> (f64[3]) {                             # model.py:20
  %o = tanh %q : f64[3]                                       # model.py:21
  return %o                                                   # model.py:22
}
"""


def edited(old: str, new: str, text: str = GOOD) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_good_function_verifies():
    verify(parse(GOOD))


@pytest.mark.parametrize("old, new, message", [
    # a value defined in a region is used after it (the parser's names are function-wide)
    ("%k = call @g(%r)", "%k = call @g(%t)", r"'call' at model.py:12: .*%t .*out of scope"),
    ("%e = mul %v, %v", "%e = mul %v, %d", r"'mul' at model.py:11: .*%d .*out of scope"),
    ("    yield %z ", "    yield %t ", r"'yield' at model.py:6: .*%t .*out of scope"),
    # wrong result type (shape, dtype, rank) for an op
    ("%z = mul %y, %x : f64[3]", "%z = mul %y, %x : f64[4]",
     r"'mul' at model.py:3: .*f64\[4\].*f64\[3\]"),
    ("%y = exp %x : f64[3]", "%y = exp %x : f32[3]", r"'exp' at model.py:2: .*f32\[3\]"),
    ("%p = lt %u, %s : bool[]", "%p = lt %u, %s : f64[]", r"'lt' at model.py:10: .*bool\[\]"),
    # operands the shape rule rejects
    ("%z = mul %y, %x", "%z = mul %y, %n", r"'mul' at model.py:3: .*dtype"),
    # wrong operand count
    ("%z = mul %y, %x", "%z = mul %y, %x, %x", r"'mul' at model.py:3: .*2 operands, got 3"),
    ("%y = exp %x :", "%y = exp %x, %x :", r"'exp' at model.py:2: .*1 operands, got 2"),
    # unknown op
    ("%z = mul %y, %x", "%z = frobnicate %y, %x", r"'frobnicate' at model.py:3: unknown op"),
    # if with a non-bool condition
    ("%r = if %c :", "%r = if %s :", r"'if' at model.py:4: .*bool\[\].*f64\[\]"),
    ("%r = if %c :", "%r = if %x :", r"'if' at model.py:4: .*bool\[\]"),
    # regions yielding the wrong types or numbers of values
    ("    yield %t ", "    yield %y, %t ", r"'yield' at model.py:5: .*expected"),
    ("    yield %z ", "    yield %s ", r"'yield' at model.py:6: yields \['f64\[\]'\]"),
    ("    yield %d ", "    yield %i ", r"'yield' at model.py:8: .*i64"),
    ("    condition %p ", "    condition %u ", r"'condition' at model.py:10: .*bool"),
    ("    yield %e ", "    yield %e, %e ", r"'yield' at model.py:11: .*expected"),
    # missing terminators
    ("    yield %t                                                  # model.py:5\n", "",
     r"'if' at model.py:4: .*must end with 'yield'"),
    ("    yield %z                                                  # model.py:6\n", "",
     r"'if' at model.py:4: .*must end with 'yield'"),
    ("    condition %p                                              # model.py:10\n", "",
     r"'while' at model.py:9: .*must end with 'condition'"),
    ("    yield %e                                                  # model.py:11\n", "",
     r"'while' at model.py:9: .*must end with 'yield'"),
    ("    yield %d                                                  # model.py:8\n", "",
     r"'for' at model.py:7: .*must end with 'yield'"),
    ("  return %k, %w                                               # model.py:13\n", "",
     r"function @f.*must end with 'return'"),
    ("  %o = tanh %q : f64[3]                                       # model.py:21\n"
     "  return %o                                                   # model.py:22\n",
     "  %o = tanh %q : f64[3]                                       # model.py:21\n",
     r"function @g.*must end with 'return'"),
    # a terminator of the wrong kind ending a region, or in the middle of a block
    ("    yield %d ", "    return %d ", r"'for' at model.py:7: .*must end with 'yield'"),
    ("    %d = add %b, %b : f64[]                                   # model.py:8\n",
     "    yield %b                                                  # model.py:7\n"
     "    %d = add %b, %b : f64[]                                   # model.py:8\n",
     r"'yield' at model.py:7: terminator in the middle"),
    ("  %z = mul %y, %x : f64[3]", "  return %y, %s  # model.py:3\n  %z = mul %y, %x : f64[3]",
     r"'return' at model.py:3: terminator in the middle"),
    # calls
    ("%k = call @g(%r)", "%k = call @g(%r, %r)", r"'call' at model.py:12: .*do not match @g"),
    ("%k = call @g(%r)", "%k = call @g(%s)", r"'call' at model.py:12: .*f64\[\].*f64\[3\]"),
    # loops
    ("range(%n)", "range(%s)", r"'for' at model.py:7: trip count must be an integer.*f64\[\]"),
    ("range(%n)", "range(%x)", r"'for' at model.py:7: trip count must be an integer"),
    ("%a = for %i in range(%n) carry(%b = %s) : f64[]",
     "%a = for %i in range(%n) carry(%b = %s) : f32[]",
     r"'for' at model.py:7: results must have the types of the carried values"),
])
def test_verifier_rejects(old, new, message):
    fn = parse(edited(old, new))
    with pytest.raises(VerifyError, match=message):
        verify(fn)


def _builder():
    block = Block([TensorType("f64", (3,))], hints=["x"])
    return block, Builder(block, loc=("model.py", 3))


def test_use_before_definition():
    block, b = _builder()
    (x,) = block.args
    y = b.op("exp", x, hint="y")
    b.loc = ("model.py", 4)
    z = b.op("mul", y, x, hint="z")
    b.op("return", z)
    block.ops[0], block.ops[1] = block.ops[1], block.ops[0]     # z = y * x now comes first
    with pytest.raises(VerifyError, match=r"'mul' at model.py:4: operand %y .*before"):
        verify(Function("f", block))


def test_value_of_another_function_is_out_of_scope():
    block, b = _builder()
    other = Block([TensorType("f64", (3,))], hints=["w"])
    b.op("return", b.op("add", block.args[0], other.args[0]))
    with pytest.raises(VerifyError, match=r"'add' at model.py:3: operand %w"):
        verify(Function("f", block))


def test_region_uses_results_of_its_own_op():
    block, b = _builder()
    (x,) = block.args
    c = b.op("constant", value=True, dtype="bool")
    then, other = Block(), Block()
    op = b.emit("if", [c], result_types=[x.type], regions=[then, other])
    with b.at(then):
        b.op("yield", op.result)
    with b.at(other):
        b.op("yield", x)
    b.op("return", op.result)
    with pytest.raises(VerifyError, match=r"'yield' at model.py:3: operand"):
        verify(Function("f", block))


def test_sibling_region_value_is_out_of_scope():
    block, b = _builder()
    (x,) = block.args
    c = b.op("constant", value=True, dtype="bool")
    with b.region() as then:
        t = b.op("neg", x, hint="t")
        b.op("yield", t)
    with b.region() as other:
        b.loc = ("model.py", 5)
        b.op("yield", t)
    b.loc = ("model.py", 3)
    r = b.emit("if", [c], result_types=[x.type], regions=[then, other]).result
    b.op("return", r)
    with pytest.raises(VerifyError, match=r"'yield' at model.py:5: operand %t"):
        verify(Function("f", block))


def test_call_of_unknown_function():
    module = Module()
    block, b = _builder()
    (x,) = block.args
    y = b.emit("call", [x], {"callee": "missing"}, result_types=[x.type]).result
    b.op("return", y)
    fn = module.add(Function("f", block))
    with pytest.raises(VerifyError, match=r"'call' at model.py:3: calls unknown function @missing"):
        verify(fn)
    fn.module = None     # a function outside any module calls nothing
    with pytest.raises(VerifyError, match=r"'call' at model.py:3: calls unknown function @missing"):
        verify(fn)


@pytest.mark.parametrize("old, new, message", [
    ("%k = call @g(%r) : f64[3]", "%k = call @g(%r) : f32[3]",
     r"'call' at model.py:12: results do not match @g"),
    ("%w = while carry(%u = %a) : f64[]", "%w = while carry(%u = %a) : i64[]",
     r"'while' at model.py:9: results must have the types of the carried values"),
])
def test_result_type_errors(old, new, message):
    """Edits that change a returned type, so the function's declared results are edited too."""
    text = edited("-> (f64[3], f64[])", "-> (f32[3], f64[])" if "f32" in new else
                  "-> (f64[3], i64[])", edited(old, new))
    with pytest.raises(VerifyError, match=message):
        verify(parse(text))


def test_callee_errors_are_found():
    text = edited("%o = tanh %q : f64[3]", "%o = tanh %q, %q : f64[3]")
    with pytest.raises(VerifyError, match=r"'tanh' at model.py:21: takes 1 operands, got 2"):
        verify(parse(text))


def test_wrong_region_count_and_missing_attribute():
    block, b = _builder()
    (x,) = block.args
    y = b.emit("exp", [x], result_types=[x.type], regions=[Block()]).result
    b.op("return", y)
    with pytest.raises(VerifyError, match=r"'exp' at model.py:3: takes 0 regions, got 1"):
        verify(Function("f", block))
    block, b = _builder()
    s = b.emit("sum", [block.args[0]], {"keepdims": False},
               result_types=[TensorType("f64")]).result
    b.op("return", s)
    with pytest.raises(VerifyError, match=r"'sum' at model.py:3: bad operands or attributes"):
        verify(Function("f", block))


def test_for_without_trip_count():
    block, b = _builder()
    with b.region([TensorType("i64")]) as body:
        b.op("yield")
    b.emit("for", [], result_types=[], regions=[body])
    b.op("return", block.args[0])
    with pytest.raises(VerifyError, match=r"'for' at model.py:3: .*trip count"):
        verify(Function("f", block))


def test_loop_region_arguments():
    block, b = _builder()
    (x,) = block.args
    with b.region([x.type]) as cond:
        b.op("condition", b.op("constant", value=False, dtype="bool"))
    with b.region([x.type, x.type]) as body:
        b.op("yield", body.args[0])
    w = b.emit("while", [x], result_types=[x.type], regions=[cond, body]).result
    with b.region([TensorType("i64"), TensorType("f32", (3,))]) as fbody:
        b.op("yield", x)
    n = b.op("constant", value=2, dtype="i64")
    f = b.emit("for", [n, x], result_types=[x.type], regions=[fbody]).result
    b.op("return", w, f)
    with pytest.raises(VerifyError, match=r"'while' at model.py:3: region arguments"):
        verify(Function("f", block))
    body.args.pop()
    with pytest.raises(VerifyError, match=r"'for' at model.py:3: body arguments"):
        verify(Function("f", block))


def test_empty_function():
    with pytest.raises(VerifyError, match=r"function @f at model.py:1: .*must end with 'return'"):
        verify(Function("f", Block(), loc=("model.py", 1)))
