"""Entries of a container set by a callee (inlined helper, separate function, vjp of a
function that sets them) inside a run-time if or loop: the region carries the container."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, same


def _halve_lr(z):
    z["lr"] = z["lr"] * 0.5


def _scale_w(z):
    z["w"] = z["w"] * 0.5


def _first(z):
    z[0] = z[0] + z[1]


_first_alias = _first     # called through another name: a separate function


def _sets_then_loss(z):
    z[0] = z[0] * 2.0
    return (z[0] * z[1]).sum()


def loop_inlined(p, n):
    for _ in range(n):
        _scale_w(p)
        _halve_lr(p)
    return (p["w"] * p["lr"]).sum()


def if_inlined(p, c):
    if c > 0:
        _scale_w(p)
    return p["w"].sum()


def loop_separate(xs, n):
    for _ in range(n):
        _first_alias(xs)
    return xs[0].sum()


def if_vjp(xs, c):
    acc = 0.0
    if c > 0:
        v, pb = adcompiler.vjp(_sets_then_loss, xs)
        (g,) = pb(1.0)
        acc = v + g[0].sum()
    return acc + xs[0].sum()


CASES = [
    (loop_inlined, lambda: ({"w": np.arange(3.0), "lr": 0.3}, np.int64(2))),
    (if_inlined, lambda: ({"w": np.arange(3.0)}, 1.0)),
    (if_inlined, lambda: ({"w": np.arange(3.0)}, -1.0)),
    (loop_separate, lambda: ([np.arange(3.0), np.ones(3)], np.int64(3))),
]


@pytest.mark.parametrize("fn,make", CASES)
def test_callee_sets_entries_in_runtime_region(fn, make):
    check(fn, *make())       # the value and the arguments afterwards, against Python's


def test_vjp_of_a_function_setting_entries_in_runtime_if():
    """By hand (Python running if_vjp would run adcompiler's own vjp): _sets_then_loss doubles
    xs[0] = [0, 1, 2] and returns sum(2 xs0 * xs1) = 6, whose gradient in xs0 is 2 xs1 =
    [2, 2, 2] (sum 6); then xs[0].sum() = 6: 18, and the caller's xs[0] is [0, 2, 4]."""
    xs = [np.arange(3.0), np.ones(3)]
    assert adcompiler.jit(if_vjp, backend="numpy")(xs, 1.0) == 18.0
    same(xs, [np.array([0.0, 2.0, 4.0]), np.ones(3)])
