"""The shared rewriting helpers (`adcompiler.ir.rewrite`) the passes and autodiff use."""
import numpy as np
import pytest

import adcompiler
from adcompiler.ir import Function, parse, registry, verify
from adcompiler.ir.rewrite import clone_block, is_pure, replace_uses
from ircheck import ir

LOOP = ir("""
    func @f(%x: f64[2], %y: f64[2], %c: bool[], %n: i64[]) -> (f64[2]) {
      %acc = for %i in range(%n) carry(%a = %x) : f64[2] {
        %r = if %c : f64[2] {
          %s = mul %a, %x : f64[2]              # m.py:4
          yield %s
        } else {
          yield %x
        }
        yield %r
      }
      %z = add %acc, %x : f64[2]
      return %z
    }
""")


def test_replace_uses_reaches_nested_regions_and_only_uses():
    fn = parse(LOOP)
    x, y = fn.args[:2]
    replace_uses(fn, x, y)
    assert str(fn) == LOOP.replace("%x", "%y").replace("func @f(%y: f64[2], %y",
                                                     "func @f(%x: f64[2], %y")
    verify(fn)


def test_replace_uses_refuses_another_type():
    fn = parse(LOOP)
    with pytest.raises(TypeError, match="types differ"):
        replace_uses(fn, fn.args[0], fn.args[2])


def test_clone_block_makes_fresh_values_and_keeps_names_and_locations():
    fn = parse(LOOP)
    vmap = {}
    copy = Function("f", clone_block(fn.body, vmap))
    assert str(copy) == LOOP
    verify(copy)
    originals = {id(v) for op in fn.walk() for v in op.results} | {id(a) for a in fn.args}
    assert not any(id(v) in originals for op in copy.walk() for v in op.results + op.operands)
    assert vmap[fn.args[0]] is copy.args[0] and vmap[fn.results[0]] is copy.results[0]
    inputs = [np.ones(2), np.arange(2.0), np.bool_(True), np.int64(3)]
    np.testing.assert_array_equal(adcompiler.evaluate(copy, *inputs),
                                  adcompiler.evaluate(fn, *inputs))


def test_purity(monkeypatch):
    fn = parse(ir("""
        func @f(%x: f64[]) -> (f64[]) {
          %a = call @g(%x) : f64[]
          %b = call @rec(%a) : f64[]
          return %b
        }

        func @g(%u: f64[]) -> (f64[]) {
          %v = sin %u : f64[]
          return %v
        }

        func @rec(%u: f64[]) -> (f64[]) {
          %v = call @rec(%u) : f64[]
          return %v
        }
    """))
    call_g, call_rec, ret = fn.body.ops
    assert is_pure(call_g, fn.module) and not is_pure(ret)
    assert not is_pure(call_rec, fn.module)   # cannot tell: keep it
    monkeypatch.setattr(registry.get("sin"), "pure", False)
    assert not is_pure(call_g, fn.module)
    loop = parse(LOOP.replace("mul %a, %x", "sin %a")).body.ops[0]
    assert not is_pure(loop)
