"""Constant folding: small all-constant ops, `if` on a constant, `for` that never runs."""
import numpy as np
import pytest

import adcompiler
from ircheck import check_pass


def test_folds_chains_of_constant_ops_and_leaves_the_rest():
    check_pass("""
        func @f(%x: f64[2]) -> (f64[2]) {
          %a = constant {value=[1.0, 2.0], dtype=f64} : f64[2]
          %b = constant {value=3.0, dtype=f64} : f64[]
          %c = mul %a, %b : f64[2]
          %d = neg %c : f64[2]
          %s = sum %d {axes=[0], keepdims=false} : f64[]
          %y = add %x, %d : f64[2]
          %z = mul %y, %s : f64[2]
          return %z
        }
    """, ["fold", "dce"], """
        func @f(%x: f64[2]) -> (f64[2]) {
          %d = constant {value=[-3.0, -6.0], dtype=f64} : f64[2]
          %s = constant {value=-9.0, dtype=f64} : f64[]
          %y = add %x, %d : f64[2]
          %z = mul %y, %s : f64[2]
          return %z
        }
    """)


def test_keeps_dtypes_shapes_and_locations():
    check_pass("""
        func @f(%x: f32[2,2]) -> (f32[2,2], i64[2], bool[2]) {
          %a = constant {value=[[1.5, 2.0], [3.0, 4.0]], dtype=f32} : f32[2,2]  # m.py:1
          %t = transpose %a {perm=[1, 0]} : f32[2,2]                             # m.py:2
          %y = add %x, %t : f32[2,2]
          %i = constant {value=[7, 8], dtype=i64} : i64[2]
          %two = constant {value=2, dtype=i64} : i64[]
          %q = floordiv %i, %two : i64[2]
          %g = gt %i, %two : bool[2]
          return %y, %q, %g
        }
    """, ["fold", "dce"], """
        func @f(%x: f32[2,2]) -> (f32[2,2], i64[2], bool[2]) {
          %t = constant {value=[[1.5, 3.0], [2.0, 4.0]], dtype=f32} : f32[2,2]  # m.py:2
          %y = add %x, %t : f32[2,2]
          %q = constant {value=[3, 4], dtype=i64} : i64[2]
          %g = constant {value=[true, true], dtype=bool} : bool[2]
          return %y, %q, %g
        }
    """)


def test_large_results_stay_unfolded_and_splats_stay_broadcasts():
    seventeen = "[" + ", ".join(["1.0"] * 17) + "]"
    check_pass(f"""
        func @f() -> (f64[17], f64[4,4], f64[4]) {{
          %a = constant {{value=1.0, dtype=f64}} : f64[]
          %big = constant {{value={seventeen}, dtype=f64}} : f64[17]
          %b = mul %big, %big : f64[17]
          %c = broadcast_to %a {{shape=[4, 4]}} : f64[4,4]
          %v = constant {{value=[1.0, 2.0, 3.0, 4.0], dtype=f64}} : f64[4]
          %w = mul %v, %v : f64[4]
          return %b, %c, %w
        }}
    """, ["fold", "dce"], f"""
        func @f() -> (f64[17], f64[4,4], f64[4]) {{
          %a = constant {{value=1.0, dtype=f64}} : f64[]
          %big = constant {{value={seventeen}, dtype=f64}} : f64[17]
          %b = mul %big, %big : f64[17]
          %c = broadcast_to %a {{shape=[4, 4]}} : f64[4,4]
          %w = constant {{value=[1.0, 4.0, 9.0, 16.0], dtype=f64}} : f64[4]
          return %b, %c, %w
        }}
    """)


def test_non_finite_results_fold_and_failing_ops_do_not():
    """inf folds, and NaN from a NaN operand; a NaN the op makes (0 / 0) stays an op, so the
    run-time NaN check names the line that makes it."""
    check_pass("""
        func @f() -> (f64[2], f64[], f64[], f64[]) {
          %a = constant {value=[1.0, -2.0], dtype=f64} : f64[2]
          %z = constant {value=0.0, dtype=f64} : f64[]
          %d = div %a, %z : f64[2]
          %n = div %z, %z : f64[]
          %q = constant {value=nan, dtype=f64} : f64[]
          %m = add %q, %z : f64[]
          %i = constant {value=5, dtype=i64} : i64[]
          %t = take %a, %i {axis=0} : f64[]
          return %d, %n, %m, %t
        }
    """, ["fold", "dce"], """
        func @f() -> (f64[2], f64[], f64[], f64[]) {
          %a = constant {value=[1.0, -2.0], dtype=f64} : f64[2]
          %z = constant {value=0.0, dtype=f64} : f64[]
          %d = constant {value=[inf, -inf], dtype=f64} : f64[2]
          %n = div %z, %z : f64[]
          %m = constant {value=nan, dtype=f64} : f64[]
          %i = constant {value=5, dtype=i64} : i64[]
          %t = take %a, %i {axis=0} : f64[]
          return %d, %n, %m, %t
        }
    """, trials=0)


def negative_base_power(x):
    return np.sum((-2.0) ** x)


def test_a_nan_derivative_of_a_constant_is_a_nan_error_at_the_users_line():
    """d/dx (-2)**x = log(-2) (-2)**x: log(-2.0) was folded to a NaN constant, and the NaN
    gradient came back silently."""
    line = negative_base_power.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.NaNError, match=f"test_fold_pass.py:{line}"):
        adcompiler.value_and_grad(negative_base_power)(np.array([2.0]))


def test_if_on_a_constant_becomes_the_taken_branch():
    check_pass("""
        func @f(%x: f64[]) -> (f64[]) {
          %t = constant {value=true, dtype=bool} : bool[]
          %r = if %t : f64[] {
            %y = sin %x : f64[]
            yield %y
          } else {
            %z = cos %x : f64[]
            yield %z
          }
          %n = logical_not %t : bool[]
          %s = if %n : f64[] {
            yield %x
          } else {
            %w = exp %r : f64[]
            yield %w
          }
          return %s
        }
    """, ["fold", "dce"], """
        func @f(%x: f64[]) -> (f64[]) {
          %y = sin %x : f64[]
          %w = exp %y : f64[]
          return %w
        }
    """)


def test_folds_inside_loops_and_removes_loops_that_never_run():
    check_pass("""
        func @f(%x: f64[], %n: i64[]) -> (f64[], f64[]) {
          %zero = constant {value=0, dtype=i64} : i64[]
          %l = for %i in range(%zero) carry(%a = %x) : f64[] {
            %b = exp %a : f64[]
            yield %b
          }
          %m = for %j in range(%n) carry(%c = %l) : f64[] {
            %flag = constant {value=false, dtype=bool} : bool[]
            %r = if %flag : f64[] {
              yield %c
            } else {
              %two = constant {value=2.0, dtype=f64} : f64[]
              %half = div %two, %two : f64[]
              %h = add %c, %half : f64[]
              yield %h
            }
            yield %r
          }
          return %l, %m
        }
    """, ["fold", "dce"], """
        func @f(%x: f64[], %n: i64[]) -> (f64[], f64[]) {
          %m = for %j in range(%n) carry(%c = %x) : f64[] {
            %half = constant {value=1.0, dtype=f64} : f64[]
            %h = add %c, %half : f64[]
            yield %h
          }
          return %x, %m
        }
    """)
