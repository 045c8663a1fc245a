"""Dead-code elimination: dead pure ops, unused `if` results and loop-carried values."""
from ircheck import check_pass


def test_removes_unused_pure_ops_and_keeps_what_the_result_needs():
    check_pass("""
        func @f(%x: f64[3]) -> (f64[3]) {
          %a = exp %x : f64[3]
          %b = tanh %a : f64[3]
          %c = sin %x : f64[3]
          return %a
        }
    """, ["dce"], """
        func @f(%x: f64[3]) -> (f64[3]) {
          %a = exp %x : f64[3]
          return %a
        }
    """)


def test_removes_control_flow_whose_results_are_unused():
    check_pass("""
        func @f(%x: f64[], %c: bool[], %n: i64[]) -> (f64[]) {
          %r = if %c : f64[] {
            %y = neg %x : f64[]
            yield %y
          } else {
            yield %x
          }
          %l = for %i in range(%n) carry(%a = %x) : f64[] {
            %b = mul %a, %a : f64[]
            yield %b
          }
          return %x
        }
    """, ["dce"], """
        func @f(%x: f64[], %c: bool[], %n: i64[]) -> (f64[]) {
          return %x
        }
    """)


def test_drops_unused_if_results_and_their_computation():
    check_pass("""
        func @f(%x: f64[], %c: bool[]) -> (f64[]) {
          %r, %s = if %c : f64[], f64[] {
            %y = neg %x : f64[]
            %z = exp %x : f64[]
            yield %y, %z
          } else {
            %w = sin %x : f64[]
            yield %x, %w
          }
          return %r
        }
    """, ["dce"], """
        func @f(%x: f64[], %c: bool[]) -> (f64[]) {
          %r = if %c : f64[] {
            %y = neg %x : f64[]
            yield %y
          } else {
            yield %x
          }
          return %r
        }
    """)


def test_for_drops_an_unused_carried_value_but_keeps_one_another_needs():
    # %p feeds %q's update, so it stays although its result is unused; %u feeds nothing
    check_pass("""
        func @f(%x: f64[2], %n: i64[]) -> (f64[2]) {
          %p, %q, %u = for %i in range(%n) carry(%p0 = %x, %q0 = %x, %u0 = %x) : f64[2], f64[2], f64[2] {
            %p1 = sin %p0 : f64[2]
            %q1 = add %q0, %p0 : f64[2]
            %u1 = mul %u0, %q0 : f64[2]
            yield %p1, %q1, %u1
          }
          return %q
        }
    """, ["dce"], """
        func @f(%x: f64[2], %n: i64[]) -> (f64[2]) {
          %p, %q = for %i in range(%n) carry(%p0 = %x, %q0 = %x) : f64[2], f64[2] {
            %p1 = sin %p0 : f64[2]
            %q1 = add %q0, %p0 : f64[2]
            yield %p1, %q1
          }
          return %q
        }
    """)


def test_for_drops_unused_carried_values_that_only_feed_each_other():
    check_pass("""
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %a, %b, %c = for %i in range(%n) carry(%a0 = %x, %b0 = %x, %c0 = %x) : f64[], f64[], f64[] {
            %a1 = sin %b0 : f64[]
            %b1 = cos %a0 : f64[]
            %c1 = add %c0, %c0 : f64[]
            yield %a1, %b1, %c1
          }
          return %c
        }
    """, ["dce"], """
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %c = for %i in range(%n) carry(%c0 = %x) : f64[] {
            %c1 = add %c0, %c0 : f64[]
            yield %c1
          }
          return %c
        }
    """)


def test_while_keeps_a_carried_value_the_condition_reads():
    # %k (a counter) is unused after the loop but decides when it stops; %junk goes
    check_pass("""
        func @f(%x: f64[], %k0: f64[]) -> (f64[]) {
          %y, %k, %junk = while carry(%y0 = %x, %kc = %k0, %j0 = %x) : f64[], f64[], f64[] {
            %ten = constant {value=3.0, dtype=f64} : f64[]
            %go = lt %kc, %ten : bool[]
            %unused = exp %j0 : f64[]
            condition %go
          } do(%y1, %kb, %j1) {
            %y2 = mul %y1, %y1 : f64[]
            %one = constant {value=1.0, dtype=f64} : f64[]
            %k2 = add %kb, %one : f64[]
            %j2 = sin %j1 : f64[]
            yield %y2, %k2, %j2
          }
          return %y
        }
    """, ["dce"], """
        func @f(%x: f64[], %k0: f64[]) -> (f64[]) {
          %y, %k = while carry(%y0 = %x, %kc = %k0) : f64[], f64[] {
            %ten = constant {value=3.0, dtype=f64} : f64[]
            %go = lt %kc, %ten : bool[]
            condition %go
          } do(%y1, %kb) {
            %y2 = mul %y1, %y1 : f64[]
            %one = constant {value=1.0, dtype=f64} : f64[]
            %k2 = add %kb, %one : f64[]
            yield %y2, %k2
          }
          return %y
        }
    """, args=[0.5, 0.0])


def test_if_inside_for_is_cleaned_recursively():
    check_pass("""
        func @f(%x: f64[3], %c: bool[], %n: i64[]) -> (f64[3]) {
          %acc, %t = for %i in range(%n) carry(%a = %x, %t0 = %x) : f64[3], f64[3] {
            %r, %s = if %c : f64[3], f64[3] {
              %y = tanh %a : f64[3]
              %dead = exp %a : f64[3]
              yield %y, %t0
            } else {
              %z = sin %a : f64[3]
              yield %z, %a
            }
            %t1 = add %s, %t0 : f64[3]
            yield %r, %t1
          }
          return %acc
        }
    """, ["dce"], """
        func @f(%x: f64[3], %c: bool[], %n: i64[]) -> (f64[3]) {
          %acc = for %i in range(%n) carry(%a = %x) : f64[3] {
            %r = if %c : f64[3] {
              %y = tanh %a : f64[3]
              yield %y
            } else {
              %z = sin %a : f64[3]
              yield %z
            }
            yield %r
          }
          return %acc
        }
    """)


def test_a_carried_value_used_inside_a_nested_region_is_kept():
    # %m is unused after the loop but the nested `if` reads it to update %acc
    check_pass("""
        func @f(%x: f64[], %c: bool[], %n: i64[]) -> (f64[]) {
          %acc, %m = for %i in range(%n) carry(%a = %x, %m0 = %x) : f64[], f64[] {
            %r = if %c : f64[] {
              %y = add %a, %m0 : f64[]
              yield %y
            } else {
              yield %a
            }
            %m1 = sin %m0 : f64[]
            yield %r, %m1
          }
          return %acc
        }
    """, ["dce"], """
        func @f(%x: f64[], %c: bool[], %n: i64[]) -> (f64[]) {
          %acc, %m = for %i in range(%n) carry(%a = %x, %m0 = %x) : f64[], f64[] {
            %r = if %c : f64[] {
              %y = add %a, %m0 : f64[]
              yield %y
            } else {
              yield %a
            }
            %m1 = sin %m0 : f64[]
            yield %r, %m1
          }
          return %acc
        }
    """)


def test_ops_with_effects_and_what_they_read_are_kept(monkeypatch):
    # no op of the registry has effects yet: pretend `sin` has one
    from adcompiler.ir import registry
    monkeypatch.setattr(registry.get("sin"), "pure", False)
    check_pass("""
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %acc, %e = for %i in range(%n) carry(%a = %x, %e0 = %x) : f64[], f64[] {
            %a1 = cos %a : f64[]
            %e1 = exp %e0 : f64[]
            %s = sin %e1 : f64[]
            yield %a1, %e1
          }
          %dead = exp %x : f64[]
          %effect = sin %x : f64[]
          return %acc
        }
    """, ["dce"], """
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %acc, %e = for %i in range(%n) carry(%a = %x, %e0 = %x) : f64[], f64[] {
            %a1 = cos %a : f64[]
            %e1 = exp %e0 : f64[]
            %s = sin %e1 : f64[]
            yield %a1, %e1
          }
          %effect = sin %x : f64[]
          return %acc
        }
    """)


def test_unused_calls_of_pure_functions_are_removed():
    check_pass("""
        func @f(%x: f64[]) -> (f64[]) {
          %y = call @g(%x) : f64[]
          return %x
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = exp %u : f64[]
          return %v
        }
    """, ["dce"], """
        func @f(%x: f64[]) -> (f64[]) {
          return %x
        }
    """)


def test_a_carried_value_deciding_whether_an_effect_happens_is_kept(monkeypatch):
    # %k's result is unused, but it decides whether the (pretend) effect of `sin` happens
    from adcompiler.ir import registry
    monkeypatch.setattr(registry.get("sin"), "pure", False)
    check_pass("""
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %acc, %k = for %i in range(%n) carry(%a = %x, %k0 = %x) : f64[], f64[] {
            %a1 = cos %a : f64[]
            %zero = constant {value=0.0, dtype=f64} : f64[]
            %p = gt %k0, %zero : bool[]
            %r = if %p : f64[] {
              %s = sin %a : f64[]
              yield %s
            } else {
              yield %a
            }
            %k1 = neg %k0 : f64[]
            yield %a1, %k1
          }
          return %acc
        }
    """, ["dce"], """
        func @f(%x: f64[], %n: i64[]) -> (f64[]) {
          %acc, %k = for %i in range(%n) carry(%a = %x, %k0 = %x) : f64[], f64[] {
            %a1 = cos %a : f64[]
            %zero = constant {value=0.0, dtype=f64} : f64[]
            %p = gt %k0, %zero : bool[]
            if %p {
              %s = sin %a : f64[]
              yield
            } else {
              yield
            }
            %k1 = neg %k0 : f64[]
            yield %a1, %k1
          }
          return %acc
        }
    """)
