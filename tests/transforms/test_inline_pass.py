"""Inlining: calls become copies of the callee body, recursively, in any region."""
import os

import pytest

from adcompiler.errors import TraceError
from adcompiler.ir import parse
from adcompiler.ir.printer import frames
from adcompiler.transforms.inline import inline
from ircheck import check_pass, filecheck, ir

NESTED = """
    func @f(%x: f64[3], %c: bool[], %n: i64[]) -> (f64[3]) {
      %a = call @g(%x) : f64[3]                 # model.py:10
      %acc = for %i in range(%n) carry(%s = %a) : f64[3] {
        %r = if %c : f64[3] {
          %b = call @g(%s) : f64[3]             # model.py:13
          yield %b
        } else {
          yield %s
        }
        yield %r
      }
      return %acc
    }

    func @g(%u: f64[3]) -> (f64[3]) {
      %h = tanh %u : f64[3]                     # layers.py:2
      %v = call @h(%h, %u) : f64[3]             # layers.py:3
      return %v
    }

    func @h(%p: f64[3], %q: f64[3]) -> (f64[3]) {
      %w = mul %p, %q : f64[3]                  # layers.py:7
      return %w
    }
"""


def test_nested_calls_in_regions_are_inlined_with_names_and_locations():
    """A callee's result takes the name the caller gave the call's (%a, %b: not h's %w)."""
    check_pass(NESTED, ["inline"], """
        func @f(%x: f64[3], %c: bool[], %n: i64[]) -> (f64[3]) {
          %h = tanh %x : f64[3]                     # layers.py:2
          %a = mul %h, %x : f64[3]                  # layers.py:7
          %acc = for %i in range(%n) carry(%s = %a) : f64[3] {
            %r = if %c : f64[3] {
              %h_1 = tanh %s : f64[3]               # layers.py:2
              %b = mul %h_1, %s : f64[3]            # layers.py:7
              yield %b
            } else {
              yield %s
            }
            yield %r
          }
          return %acc
        }
    """)


def test_an_inlined_op_keeps_the_calls_it_was_reached_through():
    """Each op's loc ends in the loc of the call that inlined it, outermost last: generated
    code quotes those calls' lines above the helper's, and errors name them."""
    fn = parse(ir(NESTED))
    inline(fn)
    chains = [[f"{os.path.basename(f)}:{n}" for f, n in frames(op.loc)]
              for op in fn.walk() if op.name in ("tanh", "mul")]
    assert chains == [["model.py:10", "layers.py:2"],
                      ["model.py:10", "layers.py:3", "layers.py:7"],
                      ["model.py:13", "layers.py:2"],
                      ["model.py:13", "layers.py:3", "layers.py:7"]]


def test_the_module_keeps_its_callees_unchanged():
    fn = parse(ir(NESTED))
    callees = {name: str(f) for name, f in fn.module.functions.items() if f is not fn}
    inline(fn)
    assert not any(op.name == "call" for op in fn.walk())
    assert {name: str(f) for name, f in fn.module.functions.items() if f is not fn} == callees


def test_each_call_gets_fresh_values():
    fn = check_pass("""
        func @f(%x: f64[]) -> (f64[]) {
          %a = call @g(%x) : f64[]
          %b = call @g(%a) : f64[]
          return %b
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = exp %u : f64[]
          return %v
        }
    """, ["inline"])
    filecheck(str(fn), """
        # CHECK: %a = exp %x
        # CHECK-NOT: call
        # CHECK: %b = exp %a
        # CHECK: return %b
    """)
    first, second = fn.body.ops[:2]
    assert first.result is not second.result and second.operands[0] is first.result


def test_multiple_results_and_passthrough_arguments():
    check_pass("""
        func @f(%x: f64[2], %y: f64[2]) -> (f64[2], f64[2]) {
          %a, %b = call @swap(%x, %y) : f64[2], f64[2]
          %s = add %a, %b : f64[2]
          return %s, %a
        }

        func @swap(%p: f64[2], %q: f64[2]) -> (f64[2], f64[2]) {
          return %q, %p
        }
    """, ["inline"], """
        func @f(%x: f64[2], %y: f64[2]) -> (f64[2], f64[2]) {
          %s = add %y, %x : f64[2]
          return %s, %y
        }
    """)


def test_recursion_is_an_error():
    fn = parse(ir("""
        func @f(%x: f64[]) -> (f64[]) {
          %y = call @g(%x) : f64[]
          return %y
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = call @g(%u) : f64[]                  # model.py:8
          return %v
        }
    """))
    with pytest.raises(TraceError, match=r"model.py:8: recursive call of @g .*@f -> @g -> @g"):
        inline(fn)
