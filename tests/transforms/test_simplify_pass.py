"""Algebraic simplification: identities apply only when the types match exactly."""
import pytest

from ircheck import check_pass

CONSTANTS = """
%one = constant {value=1.0, dtype=f64} : f64[]
%zero = constant {value=0.0, dtype=f64} : f64[]
%ones4 = constant {value=[1.0, 1.0, 1.0, 1.0], dtype=f64} : f64[4]
%zeros4 = constant {value=[0.0, 0.0, 0.0, 0.0], dtype=f64} : f64[4]
%bones = broadcast_to %one {shape=[4]} : f64[4]
"""


def func(body: str, result_type: str = "f64[4]") -> str:
    """`@f(%x: f64[4])` running the lines of `body` and returning `%r`."""
    lines = [ln.strip() for ln in body.strip().splitlines()] + ["return %r"]
    return (f"func @f(%x: f64[4]) -> ({result_type}) {{\n"
            + "".join(f"  {ln}\n" for ln in lines) + "}\n")


@pytest.mark.parametrize("body", [
    "%r = mul %x, %one : f64[4]",
    "%r = mul %one, %x : f64[4]",
    "%r = add %x, %zero : f64[4]",
    "%r = add %zero, %x : f64[4]",
    "%r = sub %x, %zero : f64[4]",
    "%r = div %x, %one : f64[4]",
    "%r = pow %x, %one : f64[4]",
    "%r = mul %x, %ones4 : f64[4]",
    "%r = add %zeros4, %x : f64[4]",
    "%r = mul %x, %bones : f64[4]",
    "%n = neg %x : f64[4]\n%r = neg %n : f64[4]",
    "%r = broadcast_to %x {shape=[4]} : f64[4]",
    "%r = astype %x {dtype=f64} : f64[4]",
    "%r = reshape %x {shape=[4]} : f64[4]",
    "%r = sum %x {axes=[], keepdims=false} : f64[4]",
    "%r = transpose %x {perm=[0]} : f64[4]",
])
def test_identities_become_the_operand(body):
    check_pass(func(CONSTANTS + body), ["simplify", "dce"],
               func("").replace("return %r", "return %x"))


@pytest.mark.parametrize("body, result_type", [
    # broadcasting: the identity widens x, so the result is not x
    ("%z = constant {value=[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], "
     "dtype=f64} : f64[3,4]\n%r = add %x, %z : f64[3,4]", "f64[3,4]"),
    ("%o = constant {value=1.0, dtype=f64} : f64[]\n%b = broadcast_to %o {shape=[3, 4]} : f64[3,4]"
     "\n%r = mul %b, %x : f64[3,4]", "f64[3,4]"),
    ("%o = constant {value=1.0, dtype=f64} : f64[]\n%b = broadcast_to %o {shape=[2, 4]} : f64[2,4]"
     "\n%r = div %x, %b : f64[2,4]", "f64[2,4]"),
    # not identities
    ("%z = constant {value=0.0, dtype=f64} : f64[]\n%r = sub %z, %x : f64[4]", "f64[4]"),
    ("%o = constant {value=1.0, dtype=f64} : f64[]\n%r = div %o, %x : f64[4]", "f64[4]"),
    ("%o = constant {value=[1.0, 2.0, 1.0, 1.0], dtype=f64} : f64[4]\n%r = mul %x, %o : f64[4]",
     "f64[4]"),
    ("%r = astype %x {dtype=f32} : f32[4]", "f32[4]"),
    ("%r = reshape %x {shape=[2, 2]} : f64[2,2]", "f64[2,2]"),
    ("%r = broadcast_to %x {shape=[3, 4]} : f64[3,4]", "f64[3,4]"),
    ("%b = gt %x, %x : bool[4]\n%r = sum %b {axes=[], keepdims=false} : i64[4]", "i64[4]"),
])
def test_non_identities_stay(body, result_type):
    text = func(body, result_type)
    check_pass(text, ["simplify", "dce"], text)


def test_a_scalar_identity_keeps_the_wider_operand():
    # 1 * ones(4): the scalar 1 cannot replace the product, the f64[4] operand can
    check_pass("""
        func @f(%x: f64[4]) -> (f64[4]) {
          %one = constant {value=1.0, dtype=f64} : f64[]
          %y = broadcast_to %one {shape=[4]} : f64[4]
          %r = mul %one, %y : f64[4]
          %s = add %r, %x : f64[4]
          return %s
        }
    """, ["simplify", "dce"], """
        func @f(%x: f64[4]) -> (f64[4]) {
          %one = constant {value=1.0, dtype=f64} : f64[]
          %y = broadcast_to %one {shape=[4]} : f64[4]
          %s = add %y, %x : f64[4]
          return %s
        }
    """)


def test_transposes_compose():
    check_pass("""
        func @f(%x: f64[2,3,4]) -> (f64[3,4,2], f64[2,3,4]) {
          %a = transpose %x {perm=[1, 0, 2]} : f64[3,2,4]
          %b = transpose %a {perm=[0, 2, 1]} : f64[3,4,2]
          %c = transpose %b {perm=[2, 0, 1]} : f64[2,3,4]
          return %b, %c
        }
    """, ["simplify", "dce"], """
        func @f(%x: f64[2,3,4]) -> (f64[3,4,2], f64[2,3,4]) {
          %b = transpose %x {perm=[1, 2, 0]} : f64[3,4,2]
          return %b, %x
        }
    """)


def test_reshapes_compose_and_vanish_when_back_to_the_start():
    check_pass("""
        func @f(%x: f64[2,6]) -> (f64[3,4], f64[2,6]) {
          %a = reshape %x {shape=[12]} : f64[12]
          %b = reshape %a {shape=[4, 3]} : f64[4,3]
          %c = reshape %b {shape=[3, 4]} : f64[3,4]
          %d = reshape %c {shape=[2, 6]} : f64[2,6]
          return %c, %d
        }
    """, ["simplify", "dce"], """
        func @f(%x: f64[2,6]) -> (f64[3,4], f64[2,6]) {
          %c = reshape %x {shape=[3, 4]} : f64[3,4]
          return %c, %x
        }
    """)


def test_a_reshape_something_else_reads_is_not_composed_through():
    """Of a transposed x, reshape(x) is a copy, made anyway for its other reader: the GPT's
    gradient reshaped the transposed attention gradient twice (two 6 MB copies a layer) where
    the second reshape of the first is a view."""
    check_pass("""
        func @f(%x: f64[2,6]) -> (f64[12], f64[3,4], f64[6,2]) {
          %t = transpose %x {perm=[1, 0]} : f64[6,2]
          %a = reshape %t {shape=[12]} : f64[12]
          %b = reshape %a {shape=[3, 4]} : f64[3,4]
          %c = reshape %a {shape=[6, 2]} : f64[6,2]
          return %a, %b, %c
        }
    """, ["simplify", "dce"], """
        func @f(%x: f64[2,6]) -> (f64[12], f64[3,4], f64[6,2]) {
          %t = transpose %x {perm=[1, 0]} : f64[6,2]
          %a = reshape %t {shape=[12]} : f64[12]
          %b = reshape %a {shape=[3, 4]} : f64[3,4]
          return %a, %b, %t
        }
    """)


def test_identities_inside_regions_and_integer_operands():
    check_pass("""
        func @f(%x: f64[2], %k: i64[2], %n: i64[]) -> (f64[2], i64[2]) {
          %acc = for %i in range(%n) carry(%a = %x) : f64[2] {
            %one = constant {value=1.0, dtype=f64} : f64[]
            %b = mul %a, %one : f64[2]
            %c = sin %b : f64[2]
            yield %c
          }
          %z = constant {value=0, dtype=i64} : i64[]
          %j = add %k, %z : i64[2]
          return %acc, %j
        }
    """, ["simplify", "dce"], """
        func @f(%x: f64[2], %k: i64[2], %n: i64[]) -> (f64[2], i64[2]) {
          %acc = for %i in range(%n) carry(%a = %x) : f64[2] {
            %c = sin %a : f64[2]
            yield %c
          }
          return %acc, %k
        }
    """)


def test_adding_a_scatter_into_zeros_scatters_into_the_addend():
    """x + scatter_add(0, i, v) -> scatter_add(x, i, v), either order, repeated indices
    included (v's entries add in another order: these are exact in binary)."""
    for sum_ in ("%r = add %x, %s : f64[4]", "%r = add %s, %x : f64[4]"):
        check_pass(func(f"""
            %zero = constant {{value=0.0, dtype=f64}} : f64[]
            %z = broadcast_to %zero {{shape=[4]}} : f64[4]
            %i = constant {{value=[1, 3, 1], dtype=i64}} : i64[3]
            %v = constant {{value=[0.5, 0.25, 2.0], dtype=f64}} : f64[3]
            %s = scatter_add %z, %i, %v {{axis=0}} : f64[4]
            {sum_}
        """), ["simplify", "dce"], """
            func @f(%x: f64[4]) -> (f64[4]) {
              %i = constant {value=[1, 3, 1], dtype=i64} : i64[3]
              %v = constant {value=[0.5, 0.25, 2.0], dtype=f64} : f64[3]
              %r = scatter_add %x, %i, %v {axis=0} : f64[4]
              return %r
            }
        """)
