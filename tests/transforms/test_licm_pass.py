"""Loop-invariant code motion: views and constants a loop body makes from values defined
before the loop move before it; everything else, and what reads the loop's own values, stays.
Each result evaluates like the original program."""
import numpy as np

from ircheck import check_pass


def test_invariant_views_and_constants_leave_the_loop():
    check_pass("""
        func @f(%w: f64[3,3], %x: f64[3], %n: i64[]) -> (f64[3]) {
          %y = for %i in range(%n) carry(%h = %x) : f64[3] {
            %z = constant {value=0.5, dtype=f64} : f64[]
            %zs = broadcast_to %z {shape=[3]} : f64[3]
            %wt = transpose %w {perm=[1, 0]} : f64[3,3]
            %h2 = reshape %h {shape=[3, 1]} : f64[3,1]
            %p = matmul %wt, %h2 : f64[3,1]
            %p1 = reshape %p {shape=[3]} : f64[3]
            %t = tanh %p1 : f64[3]
            %u = add %t, %zs : f64[3]
            yield %u
          }
          return %y
        }
    """, ["licm"], """
        func @f(%w: f64[3,3], %x: f64[3], %n: i64[]) -> (f64[3]) {
          %z = constant {value=0.5, dtype=f64} : f64[]
          %zs = broadcast_to %z {shape=[3]} : f64[3]
          %wt = transpose %w {perm=[1, 0]} : f64[3,3]
          %y = for %i in range(%n) carry(%h = %x) : f64[3] {
            %h2 = reshape %h {shape=[3, 1]} : f64[3,1]
            %p = matmul %wt, %h2 : f64[3,1]
            %p1 = reshape %p {shape=[3]} : f64[3]
            %t = tanh %p1 : f64[3]
            %u = add %t, %zs : f64[3]
            yield %u
          }
          return %y
        }
    """, args=[np.arange(9.0).reshape(3, 3) / 9, np.ones(3), np.int64(3)])


def test_ops_that_may_fail_and_ops_in_branches_stay():
    """A division by zero (an integer one is an error) or an op in a branch of the body is
    not moved: a loop that runs no iteration, or a branch not taken, must not run it."""
    text = """
        func @f(%x: f64[3], %k: i64[], %n: i64[]) -> (f64[3]) {
          %y = for %i in range(%n) carry(%h = %x) : f64[3] {
            %one = constant {value=1, dtype=i64} : i64[]
            %q = floordiv %one, %k : i64[]
            %c = gt %q, %one : bool[]
            %h3 = if %c : f64[3] {
              %wt = broadcast_to %k {shape=[3]} : i64[3]
              %f = astype %wt {dtype=f64} : f64[3]
              %s = add %h, %f : f64[3]
              yield %s
            } else {
              yield %h
            }
            yield %h3
          }
          return %y
        }
    """
    check_pass(text, ["licm"], text.replace(
        "          %y = for", "          %one = constant {value=1, dtype=i64} : i64[]\n"
                             "          %y = for").replace(
        "            %one = constant {value=1, dtype=i64} : i64[]\n", ""),
        args=[np.ones(3), np.int64(1), np.int64(2)])
