"""Common-subexpression elimination: equal pure ops merge, respecting region scopes."""
from ircheck import check_pass


def test_equal_ops_merge_and_uses_follow():
    check_pass("""
        func @f(%x: f64[3], %y: f64[3]) -> (f64[3]) {
          %a = mul %x, %y : f64[3]
          %b = mul %x, %y : f64[3]
          %c = tanh %a : f64[3]
          %d = tanh %b : f64[3]
          %e = add %c, %d : f64[3]
          %f = mul %y, %x : f64[3]
          %g = add %e, %f : f64[3]
          return %g
        }
    """, ["cse"], """
        func @f(%x: f64[3], %y: f64[3]) -> (f64[3]) {
          %a = mul %x, %y : f64[3]
          %c = tanh %a : f64[3]
          %e = add %c, %c : f64[3]
          %f = mul %y, %x : f64[3]
          %g = add %e, %f : f64[3]
          return %g
        }
    """)


def test_constants_merge_by_value_and_dtype_only():
    check_pass("""
        func @f(%x: f64[]) -> (f64[], f32[], f64[]) {
          %a = constant {value=2.0, dtype=f64} : f64[]
          %b = constant {value=2.0, dtype=f64} : f64[]
          %c = constant {value=2.0, dtype=f32} : f32[]
          %z = constant {value=0.0, dtype=f64} : f64[]
          %nz = constant {value=-0.0, dtype=f64} : f64[]
          %s = add %a, %b : f64[]
          %t = div %z, %nz : f64[]
          %u = add %s, %t : f64[]
          return %u, %c, %x
        }
    """, ["cse"], """
        func @f(%x: f64[]) -> (f64[], f32[], f64[]) {
          %a = constant {value=2.0, dtype=f64} : f64[]
          %c = constant {value=2.0, dtype=f32} : f32[]
          %z = constant {value=0.0, dtype=f64} : f64[]
          %nz = constant {value=-0.0, dtype=f64} : f64[]
          %s = add %a, %a : f64[]
          %t = div %z, %nz : f64[]
          %u = add %s, %t : f64[]
          return %u, %c, %x
        }
    """)


def test_different_attributes_do_not_merge():
    check_pass("""
        func @f(%x: f64[2,3]) -> (f64[3], f64[2], f64[3]) {
          %a = sum %x {axes=[0], keepdims=false} : f64[3]
          %b = sum %x {axes=[1], keepdims=false} : f64[2]
          %c = sum %x {axes=[0], keepdims=false} : f64[3]
          return %a, %b, %c
        }
    """, ["cse"], """
        func @f(%x: f64[2,3]) -> (f64[3], f64[2], f64[3]) {
          %a = sum %x {axes=[0], keepdims=false} : f64[3]
          %b = sum %x {axes=[1], keepdims=false} : f64[2]
          return %a, %b, %a
        }
    """)


def test_regions_reuse_outer_values_but_never_leak_inner_ones():
    # inside: %b2 is replaced by the outer %b; the then-branch %e and the else-branch %e2
    # are siblings (neither sees the other); %e3 after the `if` cannot use %e
    check_pass("""
        func @f(%x: f64[], %c: bool[]) -> (f64[]) {
          %b = sin %x : f64[]
          %r = if %c : f64[] {
            %b2 = sin %x : f64[]
            %e = exp %x : f64[]
            %s = add %b2, %e : f64[]
            yield %s
          } else {
            %e2 = exp %x : f64[]
            yield %e2
          }
          %e3 = exp %x : f64[]
          %t = add %r, %e3 : f64[]
          %u = add %t, %b : f64[]
          return %u
        }
    """, ["cse"], """
        func @f(%x: f64[], %c: bool[]) -> (f64[]) {
          %b = sin %x : f64[]
          %r = if %c : f64[] {
            %e = exp %x : f64[]
            %s = add %b, %e : f64[]
            yield %s
          } else {
            %e2 = exp %x : f64[]
            yield %e2
          }
          %e3 = exp %x : f64[]
          %t = add %r, %e3 : f64[]
          %u = add %t, %b : f64[]
          return %u
        }
    """)


def test_if_inside_for_merges_with_loop_body_and_outer_values():
    check_pass("""
        func @f(%x: f64[2], %c: bool[], %n: i64[]) -> (f64[2]) {
          %k = constant {value=0.5, dtype=f64} : f64[]
          %acc = for %i in range(%n) carry(%a = %x) : f64[2] {
            %k2 = constant {value=0.5, dtype=f64} : f64[]
            %m = mul %a, %k2 : f64[2]
            %r = if %c : f64[2] {
              %m2 = mul %a, %k : f64[2]
              %s = sin %m2 : f64[2]
              yield %s
            } else {
              yield %m
            }
            %m3 = mul %a, %k2 : f64[2]
            %y = add %r, %m3 : f64[2]
            yield %y
          }
          return %acc
        }
    """, ["cse"], """
        func @f(%x: f64[2], %c: bool[], %n: i64[]) -> (f64[2]) {
          %k = constant {value=0.5, dtype=f64} : f64[]
          %acc = for %i in range(%n) carry(%a = %x) : f64[2] {
            %m = mul %a, %k : f64[2]
            %r = if %c : f64[2] {
              %s = sin %m : f64[2]
              yield %s
            } else {
              yield %m
            }
            %y = add %r, %m : f64[2]
            yield %y
          }
          return %acc
        }
    """)


def test_equal_calls_of_a_pure_function_merge():
    check_pass("""
        func @f(%x: f64[]) -> (f64[]) {
          %a = call @g(%x) : f64[]
          %b = call @g(%x) : f64[]
          %c = add %a, %b : f64[]
          return %c
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = exp %u : f64[]
          return %v
        }
    """, ["cse"], """
        func @f(%x: f64[]) -> (f64[]) {
          %a = call @g(%x) : f64[]
          %c = add %a, %a : f64[]
          return %c
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = exp %u : f64[]
          return %v
        }
    """)
