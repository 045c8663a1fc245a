"""Helpers for pass tests: parse IR text, run passes with verification, compare the printed
result with expected text, and check that the optimised function evaluates like the original
(the unoptimised program is the independent reference)."""
from __future__ import annotations

import textwrap

import numpy as np

import adcompiler
from adcompiler.ir import parse, verify
from adcompiler.ir.passes import run_passes
from adcompiler.ir.types import DTYPES


def ir(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def random_inputs(fn, rng):
    """Random arguments for `fn`: normal floats, small non-negative integers (trip counts,
    indices), random booleans."""
    out = []
    for a in fn.args:
        t = a.type
        if t.is_float:
            out.append(np.asarray(rng.standard_normal(t.shape), dtype=DTYPES[t.dtype])[()])
        elif t.dtype == "bool":
            out.append(np.asarray(rng.random(t.shape) > 0.5)[()])
        else:
            out.append(np.asarray(rng.integers(0, 4, t.shape), dtype=DTYPES[t.dtype])[()])
    return out


def assert_same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def check_pass(text: str, passes, expected: str | None = None, trials: int = 3, args=None):
    """Run `passes` on the parsed `text`; compare with `expected` (exact text) when given, and
    the evaluation of the result with that of the original on random (or given) inputs.
    Returns the optimised function."""
    original = parse(ir(text))
    verify(original)
    optimised = run_passes(parse(ir(text)), passes, verify=True)
    if expected is not None:
        assert str(optimised) == ir(expected)
        assert parse(str(optimised)) == optimised   # the result round-trips
    rng = np.random.default_rng(0)
    for _ in range(trials):
        inputs = args if args is not None else random_inputs(original, rng)
        with np.errstate(all="ignore"):
            assert_same(adcompiler.evaluate(original, *inputs),
                        adcompiler.evaluate(optimised, *inputs))
    return optimised


def filecheck(actual: str, pattern: str) -> None:
    """`# CHECK: text` lines must occur in `actual` in order (as substrings of successive
    lines); `# CHECK-NOT: text` must not occur between the neighbouring CHECK matches."""
    lines = actual.splitlines()
    pos, banned = 0, []
    for raw in ir(pattern).splitlines():
        kind, _, want = raw.strip().partition(":")
        want = want.strip()
        if kind == "# CHECK-NOT":
            banned.append(want)
            continue
        assert kind == "# CHECK", f"bad check line {raw!r}"
        start = pos
        while pos < len(lines) and want not in lines[pos]:
            pos += 1
        assert pos < len(lines), f"CHECK: {want!r} not found after line {start} in\n{actual}"
        for b in banned:
            assert not any(b in ln for ln in lines[start:pos]), f"CHECK-NOT: {b!r} in\n{actual}"
        banned, pos = [], pos + 1
    for b in banned:
        assert not any(b in ln for ln in lines[pos:]), f"CHECK-NOT: {b!r} in\n{actual}"
