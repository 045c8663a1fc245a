"""The pass manager: running named passes in order, verifying between them, printing stages."""
import ast
import pathlib

import numpy as np
import pytest

import adcompiler
from adcompiler.ir import VerifyError, parse
from adcompiler.ir import passes
from adcompiler.ir.passes import maybe_print, run_passes

TEXT = """\
func @f(%x: f64[3]) -> (f64[3]) {
  %one = constant {value=1.0, dtype=f64} : f64[]
  %a = mul %x, %one : f64[3]
  %b = tanh %a : f64[3]
  %c = tanh %a : f64[3]
  %d = add %b, %c : f64[3]
  %e = call @g(%d) : f64[3]
  return %e
}

func @g(%u: f64[3]) -> (f64[3]) {
  %v = exp %u : f64[3]
  %w = sin %u : f64[3]
  return %v
}
"""

OPTIMISED = """\
func @f(%x: f64[3]) -> (f64[3]) {
  %b = tanh %x : f64[3]
  %d = add %b, %b : f64[3]
  %e = exp %d : f64[3]
  return %e
}
"""


def test_default_pipeline_optimises_and_keeps_results():
    fn = run_passes(parse(TEXT), verify=True)
    assert str(fn) == OPTIMISED
    x = np.linspace(-1, 1, 3)
    np.testing.assert_array_equal(adcompiler.evaluate(fn, x), adcompiler.evaluate(parse(TEXT), x))


def test_passes_run_in_the_given_order(monkeypatch):
    seen = []
    for name in ("one", "two"):
        monkeypatch.setitem(passes.PASSES, name, lambda fn, name=name: seen.append(name) or fn)
    run_passes(parse(TEXT), ["two", "one", "two"])
    run_passes(parse(TEXT), "one,two")
    assert seen == ["two", "one", "two", "one", "two"]


def test_unknown_pass_is_named():
    with pytest.raises(KeyError, match="unknown pass 'nope'.*dce"):
        run_passes(parse(TEXT), ["nope"])


def _breaks_ir(fn):
    fn.body.ops.pop(0)   # the `constant` its users still need
    return fn


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_debug_flag_verifies_after_each_pass_and_names_the_culprit(monkeypatch, how):
    monkeypatch.setitem(passes.PASSES, "break", _breaks_ir)
    monkeypatch.setenv("ADC_DEBUG", "1" if how == "environment" else "0")
    with pytest.raises(VerifyError, match="after pass 'break'.*'mul'"):
        run_passes(parse(TEXT), ["cse", "break"], verify=True if how == "argument" else None)


def test_without_debug_flag_nothing_is_verified(monkeypatch):
    monkeypatch.setitem(passes.PASSES, "break", _breaks_ir)
    monkeypatch.delenv("ADC_DEBUG", raising=False)
    run_passes(parse(TEXT), ["break"])


def test_print_after_names_stages(monkeypatch, capsys):
    monkeypatch.setenv("ADC_PRINT_AFTER", "cse, dce")
    fn = run_passes(parse(TEXT), ["inline", "simplify", "cse", "dce"], print_after=["inline"])
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if ln.startswith("//")] == [
        "// ----- IR after inline -----", "// ----- IR after cse -----",
        "// ----- IR after dce -----"]
    assert err.endswith(f"// ----- IR after dce -----\n{OPTIMISED}") and str(fn) == OPTIMISED


def test_maybe_print_for_other_stages(monkeypatch, capsys):
    fn = parse(TEXT)
    monkeypatch.setenv("ADC_PRINT_AFTER", "ad")
    maybe_print("schedule", fn)
    assert capsys.readouterr().err == ""
    maybe_print("ad", fn)
    assert capsys.readouterr().err == f"// ----- IR after ad -----\n{fn}"
    monkeypatch.setenv("ADC_PRINT_AFTER", "all")
    maybe_print("schedule", fn)
    assert "IR after schedule" in capsys.readouterr().err


def test_a_name_that_is_no_stage_is_warned_about(monkeypatch, capsys):
    """ADC_PRINT_AFTER=schedule (a stage design.md plans) printed nothing, silently."""
    monkeypatch.setenv("ADC_PRINT_AFTER", "ad, schedul")
    with pytest.warns(UserWarning, match="ADC_PRINT_AFTER names no stage 'schedul'; the "
                      "stages: ad, all, cse, dce, fold, frontend, inline, licm, simplify"):
        maybe_print("ad", parse(TEXT))
    assert "IR after ad" in capsys.readouterr().err


def test_a_compiled_callable_of_the_old_ir_is_dropped():
    fn = parse(TEXT)
    adcompiler.evaluate(fn, np.ones(3))
    assert "numpy_callable" in fn.meta
    run_passes(fn, ["dce"])
    assert "numpy_callable" not in fn.meta


@pytest.mark.parametrize("module", ["passes.py", "rewrite.py"])
def test_ir_modules_do_not_import_numpy(module):
    path = pathlib.Path(passes.__file__).with_name(module)
    tree = ast.parse(path.read_text())
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.split(".")[0] in ("numpy", "numba")]
