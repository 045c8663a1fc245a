"""The gradient of examples/gpt/model.py's loss: float64 finite differences (always) and the
PyTorch reference of ../shared/bench (when torch is installed)."""
import numpy as np
import pytest

import adcompiler
import adcompiler.optim
import canonical
import model


def tiny_problem(dtype, seed=0):
    V, T, d, H, L, dff, B = 11, 5, 8, 2, 2, 16, 2
    params = model.init_params(V, T, d, H, L, dff, seed=seed, dtype=dtype)
    # LayerNorm gains/biases away from 1/0 and larger weights, so every term of the gradient
    # is exercised and no coordinate sits at an exact zero
    rng = np.random.default_rng(seed + 1)
    _, leaves = adcompiler.optim.flatten(params)
    leaves = [x + rng.normal(0, 0.3, x.shape).astype(dtype) for x in leaves]
    params = adcompiler.optim.unflatten(params, leaves)
    tokens = rng.integers(0, V, (B, T + 1))
    return params, tokens[:, :-1], tokens[:, 1:], H


def test_loss_gradient_matches_finite_differences():
    params, x, y, H = tiny_problem(np.float64)
    report = adcompiler.check_grad(model.loss, params, x, y, H, samples=3, rtol=1e-6)
    assert max(report.values()) < 1e-6


def test_gradient_has_the_structure_and_dtype_of_the_params():
    params, x, y, H = tiny_problem(np.float32)
    loss, grads = adcompiler.value_and_grad(model.loss)(params, x, y, H)
    paths, leaves = adcompiler.optim.flatten(params)
    gpaths, gleaves = adcompiler.optim.flatten(grads)
    assert gpaths == paths
    for p, g in zip(leaves, gleaves, strict=True):
        assert g.shape == p.shape and g.dtype == np.float32
    assert np.isclose(loss, model.loss(params, x, y, H), rtol=1e-6)


def test_train_configs_match_the_benchmark_configs(gptconfig):
    import train
    for name, shapes in train.CONFIGS.items():
        c = gptconfig.get_config(name)
        assert shapes == dict(T=c.T, d=c.d, H=c.H, L=c.L, dff=c.dff)


def test_gradient_matches_pytorch_on_the_tiny_config(gptconfig, backend):
    torch = pytest.importorskip("torch", reason="torch not installed")
    import torch_gpt
    c = gptconfig.get_config("tiny")
    flat = gptconfig.init_params(c)
    x, y = gptconfig.make_batch(c)
    params = canonical.from_canonical(flat, c.L)
    loss, grads = adcompiler.value_and_grad(model.loss, backend=backend)(params, x, y, c.H)

    torch.manual_seed(0)
    ref = torch_gpt.GPT(c).load_canonical(flat)
    ref_loss = ref(torch.from_numpy(x), torch.from_numpy(y))
    ref_loss.backward()
    ref_grads = ref.grads_canonical()

    assert abs(float(loss) - 4.171836) < 1e-5          # loss0 of workload.md
    assert abs(float(loss) - ref_loss.item()) < 1e-5
    ours = canonical.to_canonical(grads)
    assert ours.keys() == ref_grads.keys()
    for k, g_ref in ref_grads.items():
        err = np.linalg.norm(ours[k] - g_ref) / np.linalg.norm(g_ref)
        assert err < 1e-4, f"{k}: relative error {err:.2e}"
