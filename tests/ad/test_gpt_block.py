"""A GPT block written in plain NumPy with a dict of parameters (examples/gpt/model.py), then
logits and cross-entropy: its gradients match float64 central finite differences."""
import ast
import importlib.util
import os
import re

import numpy as np

import adcompiler as adc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


show = _load("show_adjoint", "examples/show_adjoint.py")


def test_gpt_block_gradients_match_finite_differences():
    p, x, head_w, targets, n_head = show.example_inputs()
    gp, gx, gh = adc.grad(show.block_loss, wrt=(0, 1, 2))(p, x, head_w, targets, n_head)
    rng = np.random.default_rng(3)
    eps = 1e-6

    def f(p_, x_, h_):
        return show.block_loss(p_, x_, h_, targets, n_head)

    checked = 0
    for name in ["ln1_g", "attn_w", "attn_b", "proj_w", "ln2_b", "fc_w", "fc2_w", "fc2_b"]:
        for _ in range(2):
            i = tuple(rng.integers(0, n) for n in p[name].shape)
            hi = {**p, name: p[name].copy()}
            lo = {**p, name: p[name].copy()}
            hi[name][i] += eps
            lo[name][i] -= eps
            fd = (f(hi, x, head_w) - f(lo, x, head_w)) / (2 * eps)
            assert abs(gp[name][i] - fd) <= 1e-6 * max(1.0, abs(fd)), (name, i, gp[name][i], fd)
            checked += 1
    for arr, g, which in [(x, gx, 1), (head_w, gh, 2)]:
        for _ in range(4):
            i = tuple(rng.integers(0, n) for n in arr.shape)
            hi, lo = arr.copy(), arr.copy()
            hi[i] += eps
            lo[i] -= eps
            args_hi = [p, x, head_w]
            args_lo = [p, x, head_w]
            args_hi[which], args_lo[which] = hi, lo
            fd = (f(*args_hi) - f(*args_lo)) / (2 * eps)
            assert abs(g[i] - fd) <= 1e-6 * max(1.0, abs(fd))
            checked += 1
    assert checked == 24
    assert set(gp) == set(p) and all(gp[k].shape == p[k].shape for k in p)


def test_adjoint_source_is_readable_numpy():
    g = adc.grad(show.block_loss, wrt=(0, 1, 2), backend="numpy")
    src = g.adjoint_source(*show.example_inputs())
    compile(src, "adjoint", "exec")
    assert "def block_loss_fwd(" in src and "def block_loss_bwd(" in src
    assert re.search(r"#\s+model\.py:\d+", src)          # the user's lines are cited
    assert "d_p_attn_w" in src                          # adjoints named after the user's names
    # only NumPy and the generated functions are called: no runtime helper library
    tree = ast.parse(src)
    defined = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)} | {"range"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            root = f
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            ok = (isinstance(f, ast.Name) and f.id in defined
                  or isinstance(root, ast.Name) and root.id == "np"
                  or isinstance(f, ast.Attribute)
                  and f.attr in ("copy", "astype", "transpose", "reshape", "take", "append"))
            assert ok, ast.unparse(node)
