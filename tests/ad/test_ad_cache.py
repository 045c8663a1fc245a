"""The adjoint disk cache (`adcompiler.ad.cache`): an adjoint read back equals the one derived
(IR text and full source locations), other inputs get other entries, a damaged entry is
derived again, and a process whose adjoint is cached never imports SymPy."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from adcompiler import cachedir
from adcompiler.ad import cache, differentiate
from adcompiler.frontend import trace
from adcompiler.ir.printer import locations


def model(w, x):
    h = np.tanh(x @ w)
    return np.mean(np.exp(h) * h)


ARGS = (np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.linspace(0.0, 1.0, 8).reshape(2, 4))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    return tmp_path / "adjoints"


def _load(*args, wrt=(0,)):
    return cache.load(cache.key(trace(model, *args), wrt, (0,)), wrt, (0,))


def test_read_back_equals_derived(cache_dir):
    derived = differentiate(trace(model, *ARGS), (0,), (0,))
    assert len(list(cache_dir.glob("*.json"))) == 1
    read = _load(*ARGS)
    assert read is not None
    for a, b in ((derived.fwd, read.fwd), (derived.bwd, read.bwd)):
        assert str(a) == str(b)
        assert locations(a) == locations(b)
        assert os.path.isabs(b.loc[0]) and b.loc[0] == __file__
    assert (read.n_results, read.n_residuals, read.seeded, read.wrt) == \
        (derived.n_results, derived.n_residuals, derived.seeded, derived.wrt)


def squash(h):
    return np.exp(h) * h


def model_with_a_helper(w, x):
    return np.mean(squash(np.tanh(x @ w)))


def test_read_back_keeps_the_calls_a_helpers_line_was_reached_through(cache_dir):
    """An inlined op's loc holds the call's loc; JSON reads it back as nested lists, which
    are not the tuples derived (nor hashable)."""
    primal = trace(model_with_a_helper, *ARGS)
    derived = differentiate(primal, (0,), (0,))
    read = cache.load(cache.key(primal, (0,), (0,)), (0,), (0,))
    line = model_with_a_helper.__code__.co_firstlineno + 1
    exp = next(op for op in read.fwd.walk() if op.name == "exp")
    assert exp.loc == (__file__, squash.__code__.co_firstlineno + 1, (__file__, line))
    assert locations(read.fwd) == locations(derived.fwd)
    assert locations(read.bwd) == locations(derived.bwd)


def test_other_inputs_other_entries(cache_dir):
    differentiate(trace(model, *ARGS), (0,), (0,))
    differentiate(trace(model, *ARGS), (0, 1), (0,))
    differentiate(trace(model, ARGS[0], ARGS[1][:1]), (0,), (0,))
    assert len(list(cache_dir.glob("*.json"))) == 3
    assert _load(*ARGS, wrt=(1,)) is None


def test_a_damaged_entry_is_derived_again(cache_dir):
    want = str(differentiate(trace(model, *ARGS), (0,), (0,)).bwd)
    (entry,) = cache_dir.glob("*.json")
    good = json.loads(cachedir.read_entry("adjoints", entry.name))
    damaged = [dict(good, bwd_locations=good["bwd_locations"][:-1]),   # locations off by one
               dict(good, fwd=good["fwd"][:len(good["fwd"]) // 2]),    # text cut short
               {k: v for k, v in good.items() if k != "n_residuals"},  # a field missing
               [1, 2, 3]]                                              # not an entry at all
    for data in damaged:        # (written whole: its hash matches)
        cachedir.write_entry("adjoints", entry.name, json.dumps(data).encode())
        assert _load(*ARGS) is None
    entry.write_text("{not json")
    assert str(differentiate(trace(model, *ARGS), (0,), (0,)).bwd) == want


def test_an_entry_changed_on_disk_is_derived_again(cache_dir):
    """A number changed in the file, its length unchanged, was read as it stood: a wrong
    adjoint silently (each file now starts with a hash of its bytes)."""
    want = str(differentiate(trace(model, *ARGS), (0,), (0,)).bwd)
    (entry,) = cache_dir.glob("*.json")
    raw = entry.read_bytes()
    assert b"value=1.0" in raw
    entry.write_bytes(raw.replace(b"value=1.0", b"value=2.0", 1))
    assert _load(*ARGS) is None
    assert str(differentiate(trace(model, *ARGS), (0,), (0,)).bwd) == want


def test_an_unusable_cache_directory_only_costs_time(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path / "good"))
    want = differentiate(trace(model, *ARGS), (0,), (0,))
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(blocker / "cache"))
    got = differentiate(trace(model, *ARGS), (0,), (0,))
    assert (str(got.fwd), str(got.bwd)) == (str(want.fwd), str(want.bwd))
    assert _load(*ARGS) is None


def test_a_cached_adjoint_needs_no_sympy(tmp_path):
    """The point of the cache: a warm process skips SymPy's import (0.3 s)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np
        import adcompiler
        from test_ad_cache import model, ARGS
        g = adcompiler.grad(model, backend="numpy")(*ARGS)
        print("sympy" in sys.modules)
    """)
    env = dict(os.environ, ADCOMPILER_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split()[-1] for _ in range(2)]
    assert runs == ["True", "False"]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_new_grad_of_the_same_function_reuses_its_program(backend, monkeypatch):
    """`adcompiler.grad(loss)(...)` made anew each step (JAX's habit) differentiated and
    generated the program again each time (10-100x a step); the program is kept on the trace,
    so grad, value_and_grad and vjp of the function share it. Values: NumPy's derivative."""
    import adcompiler
    from adcompiler import api
    calls = []
    monkeypatch.setattr(api, "differentiate",
                        lambda *a, **k: calls.append(1) or differentiate(*a, **k))

    def step_loss(w, x):            # (its own function: no other test traced it)
        return np.sum(np.tanh(x @ w) ** 2)

    w, x = ARGS
    t = np.tanh(x @ w)
    want = x.T @ (2 * t * (1 - t ** 2))
    for _ in range(3):
        np.testing.assert_allclose(adcompiler.grad(step_loss, backend=backend)(w, x), want,
                                   rtol=1e-13)
    value, g = adcompiler.value_and_grad(step_loss, backend=backend)(w, x)
    np.testing.assert_allclose(g, want, rtol=1e-13)
    assert len(calls) == 1
