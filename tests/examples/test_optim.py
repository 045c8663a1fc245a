"""adcompiler.optim against independent references: gptconfig.adamw_update_np and
torch.optim (when installed) for the updates, torch's clip_grad_norm_ for clipping, the
full-batch gradient for accumulation, closed forms for the schedule."""
import math

import numpy as np
import pytest

import adcompiler
import model
from adcompiler.optim import (SGD, AdamW, GradAccumulator, clip_by_global_norm, flatten,
                              unflatten, warmup_cosine)


def random_tree(seed, dtype=np.float32):
    """A parameter-shaped tree (nested dict + list, like model.init_params) of N(0, 1)."""
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((3, 4)).astype(dtype),
            "layers": [{"b": rng.standard_normal(5).astype(dtype),
                        "a": rng.standard_normal((2, 2)).astype(dtype)} for _ in range(2)]}


def test_flatten_paths_and_round_trip():
    tree = random_tree(0)
    paths, leaves = flatten(tree)
    assert paths == ["layers/0/a", "layers/0/b", "layers/1/a", "layers/1/b", "w"]
    new = [x + 1 for x in leaves]
    back = unflatten(tree, new)
    assert list(back) == list(tree) and back["layers"][1]["b"] is new[3]
    assert flatten(back)[0] == paths
    for x, y in zip(flatten(back)[1], leaves, strict=True):
        np.testing.assert_array_equal(x, y + 1)


def adamw_reference(gptconfig, params, steps, **kw):
    """Per step t = 1..steps: (t, gradients random_tree(t), reference parameters, m, v) after
    gptconfig's torch.optim.AdamW-equivalent update (`kw`: its lr/wd; lr may be a function
    of t) on copies of `params`."""
    ref = [x.copy() for x in flatten(params)[1]]
    m, v = [np.zeros_like(x) for x in ref], [np.zeros_like(x) for x in ref]
    for t in range(1, steps + 1):
        grads = random_tree(t)
        step_kw = {k: (f(t) if callable(f) else f) for k, f in kw.items()}
        for p, g, mi, vi in zip(ref, flatten(grads)[1], m, v, strict=True):
            gptconfig.adamw_update_np(p, g, mi, vi, t, **step_kw)
        yield t, grads, ref, m, v


def test_adamw_is_bit_identical_to_the_reference(gptconfig):
    params = random_tree(0)
    opt = AdamW(lr=1e-2, weight_decay=0.1, backend="numpy")
    state = opt.init(params)
    for t, grads, ref, m, v in adamw_reference(gptconfig, params, 4, lr=lambda t: 1e-2 / t,
                                               wd=0.1):
        params, state, _ = opt.update(params, grads, state, lr=1e-2 / t)
        for a, b in zip(flatten(params)[1], ref, strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(flatten(state["m"])[1] + flatten(state["v"])[1], m + v, strict=True):
            assert np.array_equal(a, b)
    assert int(state["step"]) == 4


def test_numpy_float32_hyper_parameters_are_taken_as_floats(gptconfig):
    """np.float32 lr, betas and weight decay made AdamW's coefficients float32 before they
    were rounded (float64 parameters 1e-6 off the reference after 50 steps)."""
    params = random_tree(0, np.float64)
    lr, wd = np.float32(1e-2), np.float32(0.1)
    opt = AdamW(lr=lr, betas=(np.float32(0.9), np.float32(0.999)), weight_decay=wd,
                backend="numpy")
    state = opt.init(params)
    ref = [x.copy() for x in flatten(params)[1]]
    m, v = [np.zeros_like(x) for x in ref], [np.zeros_like(x) for x in ref]
    for t in range(1, 6):
        grads = random_tree(t, np.float64)
        for p, g, mi, vi in zip(ref, flatten(grads)[1], m, v, strict=True):
            gptconfig.adamw_update_np(p, g, mi, vi, t, lr=float(lr), wd=float(wd),
                                      betas=(float(np.float32(0.9)), float(np.float32(0.999))))
        params, state, _ = opt.update(params, grads, state, lr=lr if t % 2 else None)
    for a, b in zip(flatten(params)[1], ref, strict=True):
        assert np.array_equal(a, b)


def test_adamw_matches_the_reference_on_every_backend(gptconfig, backend):
    params = random_tree(0)
    opt = AdamW(backend=backend)
    state = opt.init(params)
    for _, grads, ref, _, _ in adamw_reference(gptconfig, params, 3):
        params, state, _ = opt.update(params, grads, state)
    for a, b in zip(flatten(params)[1], ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def matrices(path, p):
    return p.ndim >= 2


def test_decay_mask_picks_the_leaves_weight_decay_reaches(gptconfig, backend):
    """Biases and gains left out of weight decay (nanoGPT's choice): each leaf follows the
    reference with its own weight decay, 0.1 or none."""
    params = random_tree(0)
    ref = [x.copy() for x in flatten(params)[1]]
    m, v = [np.zeros_like(x) for x in ref], [np.zeros_like(x) for x in ref]
    opt = AdamW(lr=1e-2, weight_decay=0.1, decay_mask=matrices, backend=backend)
    state = opt.init(params)
    for t in range(1, 4):
        grads = random_tree(t)
        params, state, _ = opt.update(params, grads, state)
        for p, g, mi, vi in zip(ref, flatten(grads)[1], m, v, strict=True):
            gptconfig.adamw_update_np(p, g, mi, vi, t, lr=1e-2, wd=0.1 if p.ndim >= 2 else 0.0)
    for a, b in zip(flatten(params)[1], ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    sgd = SGD(lr=0.05, weight_decay=0.05, decay_mask=matrices, backend=backend)
    p, state = random_tree(0), sgd.init(random_tree(0))
    for t in range(1, 4):
        p, state, _ = sgd.update(p, random_tree(t), state)
    leaves = flatten(random_tree(0))[1]
    grads_seq = [flatten(random_tree(t))[1] for t in range(1, 4)]
    for i, x in enumerate(leaves):
        want = sgd_reference([x], [[g[i]] for g in grads_seq], 0.05, 0.9,
                             0.05 if x.ndim >= 2 else 0.0, False)[0]
        np.testing.assert_allclose(flatten(p)[1][i], want, rtol=1e-5, atol=1e-6)


def test_updates_leave_their_inputs_unchanged():
    params, grads = random_tree(0), random_tree(1)
    before = [x.copy() for x in flatten(params)[1] + flatten(grads)[1]]
    for opt in (AdamW(clip=0.5), SGD(weight_decay=0.1, clip=0.5)):
        opt.update(params, grads, opt.init(params))
    for a, b in zip(flatten(params)[1] + flatten(grads)[1], before, strict=True):
        assert np.array_equal(a, b)


def sgd_reference(params, grads_seq, lr, momentum, wd, nesterov):
    """torch.optim.SGD's documented algorithm (dampening 0), in float64 NumPy."""
    p = [x.astype(np.float64) for x in params]
    buf = [None] * len(p)
    for grads in grads_seq:
        for i, g in enumerate(grads):
            g = g.astype(np.float64) + wd * p[i]
            buf[i] = g.copy() if buf[i] is None else momentum * buf[i] + g
            p[i] = p[i] - lr * (g + momentum * buf[i] if nesterov else buf[i])
    return p


@pytest.mark.parametrize("nesterov,wd", [(False, 0.0), (True, 0.05), (False, 0.05)])
def test_sgd_matches_the_reference(backend, nesterov, wd):
    params = random_tree(0)
    grads_seq = [random_tree(t) for t in range(1, 5)]
    opt = SGD(lr=0.05, momentum=0.9, weight_decay=wd, nesterov=nesterov, backend=backend)
    state = opt.init(params)
    p = params
    for grads in grads_seq:
        p, state, _ = opt.update(p, grads, state)
    ref = sgd_reference(flatten(params)[1], [flatten(g)[1] for g in grads_seq], 0.05, 0.9, wd,
                        nesterov)
    for a, b in zip(flatten(p)[1], ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_optimisers_match_torch():
    torch = pytest.importorskip("torch", reason="torch not installed")
    params = random_tree(0)
    paths, leaves = flatten(params)
    grads_seq = [flatten(random_tree(t))[1] for t in range(1, 5)]
    cases = [(AdamW(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, clip=2.0),
              lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                           weight_decay=0.1, foreach=False)),
             (SGD(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True, clip=2.0),
              lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01,
                                         nesterov=True, foreach=False))]
    for ours, make_theirs in cases:
        tp = [torch.tensor(x, requires_grad=True) for x in leaves]
        theirs = make_theirs(tp)
        p, state = params, ours.init(params)
        for g in grads_seq:
            p, state, info = ours.update(p, unflatten(params, g), state)
            for t, gi in zip(tp, g, strict=True):
                t.grad = torch.tensor(gi)
            norm = torch.nn.utils.clip_grad_norm_(tp, 2.0)
            theirs.step()
            assert info["grad_norm"] == pytest.approx(norm.item(), rel=1e-6)
        for a, t in zip(flatten(p)[1], tp, strict=True):
            np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_clip_by_global_norm(backend):
    grads = random_tree(3)
    norm = math.sqrt(sum(float(np.sum(x.astype(np.float64) ** 2)) for x in flatten(grads)[1]))
    clipped, reported = clip_by_global_norm(grads, 1.0, backend=backend)
    assert reported == pytest.approx(norm, rel=1e-6)
    new = math.sqrt(sum(float(np.sum(x.astype(np.float64) ** 2))
                        for x in flatten(clipped)[1]))
    assert new == pytest.approx(1.0, rel=1e-5)
    for a, b in zip(flatten(clipped)[1], flatten(grads)[1], strict=True):   # direction kept
        np.testing.assert_allclose(a, b / (norm + 1e-6), rtol=1e-5)
    same, _ = clip_by_global_norm(grads, 10 * norm, backend=backend)
    for a, b in zip(flatten(same)[1], flatten(grads)[1], strict=True):
        assert np.array_equal(a, b)


def test_clipping_inside_the_optimiser_equals_clipping_first(backend):
    params, grads = random_tree(0), random_tree(1)
    clipped, _ = clip_by_global_norm(grads, 0.5, backend=backend)
    a = SGD(lr=0.1, clip=0.5, backend=backend)
    b = SGD(lr=0.1, backend=backend)
    pa, _, info = a.update(params, grads, a.init(params))
    pb, _, _ = b.update(params, clipped, b.init(params))
    for x, y in zip(flatten(pa)[1], flatten(pb)[1], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    assert set(info["grad_sq"]) == set(flatten(params)[0])


def test_accumulated_micro_batches_equal_the_full_batch():
    V, T, d, H, L, dff = 13, 6, 8, 2, 1, 16
    params = model.init_params(V, T, d, H, L, dff, seed=0, dtype=np.float64)
    tok = np.random.default_rng(0).integers(0, V, (4, T + 1))
    x, y = tok[:, :-1], tok[:, 1:]
    vg = adcompiler.value_and_grad(model.loss)
    full_loss, full = vg(params, x, y, H)
    acc = GradAccumulator()
    for k in (slice(0, 2), slice(2, 4)):
        acc.add(*vg(params, x[k], y[k], H))
    loss, mean = acc.mean()
    assert acc.count == 0 and loss == pytest.approx(float(full_loss), rel=1e-12)
    for a, b in zip(flatten(mean)[1], flatten(full)[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_accumulator_refuses_a_micro_batch_of_other_shapes_or_dtypes():
    """A (2, 3) gradient after a (3,) one broadcast into a (2, 3) mean, float64 after float32
    promoted it, silently."""
    for first, then, want in ((np.ones(3), np.ones((2, 3)), r"float64\[2, 3\], in the first "
                               r"float64\[3\]"),
                              (np.ones(3, np.float32), np.ones(3), r"float64\[3\], in the first "
                               r"float32\[3\]")):
        acc = GradAccumulator(backend="numpy")
        acc.add(1.0, {"b": first})
        with pytest.raises(adcompiler.AdcompilerError, match="gradient of 'b' in micro-batch 2 "
                           "is " + want):
            acc.add(1.0, {"b": then})


def test_accumulator_averages_on_every_backend(backend):
    trees = [random_tree(k) for k in range(3)]
    acc = GradAccumulator(backend=backend)
    for k, t in enumerate(trees):
        acc.add(float(k), t)
    loss, mean = acc.mean()
    assert loss == 1.0
    for m, *xs in zip(flatten(mean)[1], *(flatten(t)[1] for t in trees), strict=True):
        np.testing.assert_allclose(m, (xs[0] + xs[1] + xs[2]) * np.float32(1 / 3), rtol=1e-6)


def test_one_micro_batch_is_returned_unchanged_and_kept_as_a_copy():
    acc = GradAccumulator()
    g = random_tree(0)
    want = [x.copy() for x in flatten(g)[1]]
    acc.add(1.5, g)
    for x in flatten(g)[1]:
        x *= 7.0                # the caller reuses its arrays before mean()
    loss, out = acc.mean()
    assert loss == 1.5 and all(np.array_equal(a, b) for a, b in zip(flatten(out)[1], want,
                                                                    strict=True))


def test_warmup_cosine_values():
    lr = warmup_cosine(1.0, 4, 14, min_lr=0.1)
    assert [lr(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr(4) == 1.0
    assert lr(9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 9)))
    assert lr(13) == pytest.approx(0.1) and lr(100) == pytest.approx(0.1)
    assert all(lr(s) >= lr(s + 1) for s in range(4, 20))
    no_warmup = warmup_cosine(2.0, 0, 3)
    assert [no_warmup(s) for s in range(3)] == pytest.approx([2.0, 1.0, 0.0])
    all_warmup = warmup_cosine(1.0, 3, 3, min_lr=0.1)      # min_lr after the last step
    assert [all_warmup(s) for s in range(5)] == pytest.approx([1 / 3, 2 / 3, 1.0, 0.1, 0.1])


def test_optimiser_state_round_trips_through_npz(tmp_path):
    params = random_tree(0)
    opt = AdamW()
    params, state, _ = opt.update(params, random_tree(1), opt.init(params))
    paths, leaves = flatten(state)
    np.savez(tmp_path / "s.npz", **dict(zip(paths, leaves, strict=True)))
    with np.load(tmp_path / "s.npz") as z:
        back = unflatten(state, [z[p] for p in paths])
    p2, s2, _ = opt.update(params, random_tree(2), back)
    p1, s1, _ = opt.update(params, random_tree(2), state)
    for a, b in zip(flatten([p1, s1])[1], flatten([p2, s2])[1], strict=True):
        assert np.array_equal(a, b)


def test_bad_optimiser_inputs():
    params = random_tree(0)
    opt = AdamW()
    with pytest.raises(adcompiler.AdcompilerError, match="structure"):
        opt.update(params, {"w": params["w"]}, opt.init(params))
    with pytest.raises(adcompiler.AdcompilerError, match="clip"):
        AdamW(clip=0.0)
    # a gradient or a moment of another shape would broadcast into a new parameter shape
    bad = dict(params, w=params["w"][:, :1])
    for opt in (AdamW(), SGD()):
        state = opt.init(params)
        with pytest.raises(adcompiler.AdcompilerError, match=r"gradient of 'w' is float32\[3, 1\]"):
            opt.update(params, bad, state)
        with pytest.raises(adcompiler.AdcompilerError, match=r"of 'w' is float32\[3, 1\]"):
            opt.update(params, params, {**state, **{k: dict(state[k], w=bad["w"])
                                                    for k in state if k != "step"}})
        with pytest.raises(adcompiler.AdcompilerError, match="'n' is int64"):
            opt.update(dict(params, n=np.arange(3)), dict(params, n=None), state)
    for kwargs in (dict(lr=-1.0), dict(betas=(1.0, 0.999)), dict(eps=-1.0),
                   dict(weight_decay=-0.1)):
        with pytest.raises(adcompiler.AdcompilerError, match="must be in"):
            AdamW(**kwargs)
    with pytest.raises(adcompiler.AdcompilerError, match="nesterov"):
        SGD(momentum=0.0, nesterov=True)
    with pytest.raises(adcompiler.AdcompilerError, match="decay_mask must be"):
        AdamW(decay_mask={"w": True})
    # these raised a bare StopIteration, KeyError and TypeError
    with pytest.raises(adcompiler.AdcompilerError, match="holds no arrays"):
        AdamW().update({}, {}, AdamW().init({}))
    with pytest.raises(adcompiler.AdcompilerError, match="no 'm', 'v' in it"):
        AdamW().update(params, params, SGD().init(params))
    with pytest.raises(adcompiler.AdcompilerError, match="no 'step', 'momentum' in it"):
        SGD().update(params, params, None)
    with pytest.raises(adcompiler.AdcompilerError, match="lr must be in"):     # as in __init__
        SGD().update(params, params, SGD().init(params), lr=-1.0)


@pytest.mark.parametrize("opt", [AdamW(lr=0.1), SGD(lr=0.1)])
def test_a_scalar_parameter_stays_an_array(opt, gptconfig):
    """A 0-d float64 parameter (a learnable scale) over several steps: it and its state stay
    0-d arrays, with the values the same parameter gets as a 1-element vector, and the
    reference's."""
    trees = [{"s": np.array(1.0), "w": np.ones(2)}, {"s": np.array([1.0]), "w": np.ones(2)}]
    for k, params in enumerate(trees):
        state = opt.init(params)
        for _ in range(3):
            params, state, _ = opt.update(params, {"s": params["s"] * 0 + 0.5, "w": np.ones(2)},
                                          state)
        trees[k] = [params, state]
    assert all(type(x) is np.ndarray and x.shape == () for x in (
        trees[0][0]["s"], *(trees[0][1][k]["s"] for k in trees[0][1] if k != "step")))
    for a, b in zip(flatten(trees[0])[1], flatten(trees[1])[1], strict=True):
        np.testing.assert_array_equal(a, np.reshape(b, np.shape(a)))
    p, g = np.array(1.0), np.array(0.5)
    if isinstance(opt, AdamW):
        m, v = np.zeros(()), np.zeros(())
        for t in range(1, 4):
            gptconfig.adamw_update_np(p, g, m, v, t, lr=opt.lr, betas=opt.betas, eps=opt.eps,
                                      wd=opt.weight_decay)
    else:
        p = sgd_reference([p], [[g]] * 3, opt.lr, opt.momentum, opt.weight_decay, False)[0]
    np.testing.assert_allclose(trees[0][0]["s"], p, rtol=1e-12)


def test_flatten_refuses_two_leaves_with_one_path():
    with pytest.raises(ValueError, match="'a/b'"):
        flatten({"a/b": np.ones(1), "a": {"b": np.ones(1)}})


def test_an_update_keeps_no_array_alive():
    """Without the cyclic garbage collector, the arrays of the step before are freed when the
    caller drops them (a closure that called itself, in flatten, kept every step's arrays
    until a collection, so the Numba backend could not reuse their memory: page faults)."""
    import gc
    import weakref
    opt = AdamW(backend="numpy")
    params = random_tree(0)
    state = opt.init(params)
    params, state, _ = opt.update(params, random_tree(1), state)
    gc.collect()
    gc.disable()
    try:
        refs = [weakref.ref(x) for x in flatten(params)[1] + flatten(state["m"])[1]]
        params, state, _ = opt.update(params, random_tree(2), state)
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


class Linear:
    """A model object (frontend/pytree.py): arrays and other attributes."""

    def __init__(self, rng, n_in, n_out):
        self.W = rng.standard_normal((n_in, n_out)).astype(np.float32)
        self.b = rng.standard_normal(n_out).astype(np.float32)    # (a gradient's too: not 0)
        self.activation = "tanh"


class Net:
    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.layers = [Linear(rng, 3, 4), Linear(rng, 4, 2)]
        self.sizes = (3, 4, 2)


def test_sgd_steps_a_model_object(backend):
    net, grads = Net(0), Net(1)
    opt = SGD(lr=0.1, momentum=0.0, backend=backend)
    new, _, info = opt.update(net, grads, opt.init(net))
    assert type(new) is Net and [type(x) for x in new.layers] == [Linear, Linear]
    assert new.sizes == (3, 4, 2) and new.layers[1].activation == "tanh"
    assert sorted(info["grad_sq"]) == ["layers/0/W", "layers/0/b", "layers/1/W", "layers/1/b"]
    for a, b, g in zip(new.layers, net.layers, grads.layers, strict=True):
        np.testing.assert_allclose(a.W, b.W - np.float32(0.1) * g.W, rtol=1e-6)
        np.testing.assert_allclose(a.b, b.b - np.float32(0.1) * g.b, rtol=1e-6)


class Paired:
    def __init__(self):
        self.W = np.ones((2, 2), np.float32)
        self.pair = (np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32))
        self.layers = (Linear(np.random.default_rng(0), 2, 2),)


def test_tuples_hold_parameters_in_models_and_dicts(backend):
    net, grads = Paired(), Paired()
    opt = SGD(lr=0.5, momentum=0.0, backend=backend)
    new, _, info = opt.update(net, grads, opt.init(net))
    assert sorted(info["grad_sq"]) == ["W", "layers/0/W", "layers/0/b", "pair/0", "pair/1"]
    assert isinstance(new.pair, tuple) and isinstance(new.layers, tuple)
    np.testing.assert_allclose(new.pair[1], [1.5, 2.0])           # 3 - 0.5 * 3, 4 - 0.5 * 4
    np.testing.assert_allclose(new.pair[0], [0.5, 1.0])
    np.testing.assert_allclose(new.W, np.full((2, 2), 0.5))
    layer = net.layers[0]
    np.testing.assert_allclose(new.layers[0].W, 0.5 * layer.W, rtol=1e-6)     # p - 0.5 p
    np.testing.assert_allclose(new.layers[0].b, 0.5 * layer.b, rtol=1e-6)
    tree = {"pair": (np.ones(2), np.zeros(2))}
    out, _, _ = opt.update(tree, tree, opt.init(tree))
    assert isinstance(out["pair"], tuple)
    np.testing.assert_allclose(out["pair"][0], [0.5, 0.5])


class WithBuffer(Linear):
    def __init__(self):
        super().__init__(np.random.default_rng(0), 2, 2)
        self.ids = np.array([0, 3, 3])      # an integer buffer: no gradient, not stepped


def test_integer_arrays_of_a_model_object_are_not_parameters(backend):
    net, grads = WithBuffer(), WithBuffer()
    grads.ids = None                        # as grad gives an integer array's gradient
    opt = AdamW(lr=0.1, backend=backend)
    new, _, info = opt.update(net, grads, opt.init(net))
    assert sorted(info["grad_sq"]) == ["W", "b"] and new.ids is net.ids
    # torch's first AdamW step: p (1 - lr wd) - lr g / (|g| + eps), the bias corrections
    # cancelling (grads was made like net: g is p)
    for p, q in ((new.W, net.W), (new.b, net.b)):
        q = q.astype(np.float64)
        np.testing.assert_allclose(p, q * (1 - 0.1 * 0.01) - 0.1 * q / (np.abs(q) + 1e-8),
                                   rtol=1e-5)


class Tied:
    """A token embedding and an output head that share one weight (`head.W is emb.W`)."""

    def __init__(self, seed, dtype=np.float32):
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((5, 3)).astype(dtype)
        self.emb, self.head = Linear.__new__(Linear), Linear.__new__(Linear)
        self.emb.W = self.head.W = W
        self.b = rng.standard_normal(5).astype(dtype)


def test_a_tied_weight_is_one_parameter(gptconfig, backend):
    net = Tied(0)
    opt = AdamW(lr=1e-2, weight_decay=0.1, backend=backend)
    state = opt.init(net)
    assert state["m"].emb.W is state["m"].head.W
    W, b = net.emb.W.copy(), net.b.copy()
    mW, vW, mb, vb = (np.zeros_like(x) for x in (W, W, b, b))
    for t in range(1, 4):
        grads = Tied(t)                     # a gradient at each place, as grad gives
        grads.head.W = grads.emb.W[::-1].copy()
        net, state, info = opt.update(net, grads, state)
        gW = grads.emb.W + grads.head.W
        gptconfig.adamw_update_np(W, gW, mW, vW, t, lr=1e-2, wd=0.1)
        gptconfig.adamw_update_np(b, grads.b, mb, vb, t, lr=1e-2, wd=0.1)
        assert net.emb.W is net.head.W and state["v"].emb.W is state["v"].head.W
        np.testing.assert_allclose(net.emb.W, W, rtol=1e-6)
        np.testing.assert_allclose(net.b, b, rtol=1e-6)
        assert info["grad_sq"]["emb/W"] == info["grad_sq"]["head/W"] == pytest.approx(
            float(np.sum(gW.astype(np.float64) ** 2)), rel=1e-5)
        assert info["grad_norm"] == pytest.approx(
            math.sqrt(np.sum(gW.astype(np.float64) ** 2) + np.sum(grads.b.astype(np.float64) ** 2)),
            rel=1e-5)


def tied_lm_loss(net, ids, targets):
    h = np.tanh(net.emb.W[ids])
    logits = h @ net.head.W.T + net.b
    top = np.max(logits, axis=1, keepdims=True)
    logp = logits - top - np.log(np.sum(np.exp(logits - top), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(ids.shape[0]), targets])


def test_training_a_tied_weight_matches_torch(backend):
    torch = pytest.importorskip("torch", reason="torch not installed")
    net = Tied(0, np.float64)
    ids, targets = np.array([0, 3, 4, 1, 3]), np.array([2, 2, 0, 4, 1])
    W = torch.tensor(net.emb.W, requires_grad=True)
    b = torch.tensor(net.b, requires_grad=True)
    theirs = torch.optim.AdamW([W, b], lr=1e-2, weight_decay=0.1, foreach=False)
    opt, grad = AdamW(lr=1e-2, weight_decay=0.1, backend=backend), adcompiler.grad(
        tied_lm_loss, backend=backend)
    state = opt.init(net)
    for _ in range(3):
        net, state, _ = opt.update(net, grad(net, ids, targets), state)
        theirs.zero_grad()
        logits = torch.tanh(W[ids]) @ W.T + b
        torch.nn.functional.cross_entropy(logits, torch.tensor(targets)).backward()
        theirs.step()
    assert net.emb.W is net.head.W
    np.testing.assert_allclose(net.emb.W, W.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net.b, b.detach().numpy(), rtol=1e-10, atol=1e-12)


class Tempered(Linear):
    """A learnable NumPy float beside an array, and a Python float the optimisers leave."""

    def __init__(self):
        super().__init__(np.random.default_rng(0), 2, 2)
        self.temp, self.eps = np.float32(0.7), 1e-5


def test_a_numpy_float_of_a_model_object_is_a_parameter(backend):
    net, grads = Tempered(), Tempered()
    grads.temp, grads.eps = np.float32(0.25), None
    new, _, info = SGD(lr=0.1, momentum=0.0, backend=backend).update(net, grads, SGD().init(net))
    assert sorted(info["grad_sq"]) == ["W", "b", "temp"] and new.eps == 1e-5
    np.testing.assert_allclose(new.temp, 0.7 - 0.1 * 0.25, rtol=1e-6)
    np.testing.assert_allclose(new.b, net.b - np.float32(0.1) * grads.b, rtol=1e-6)
    assert type(new.temp) is np.float32                 # a scalar still
    np.testing.assert_allclose(new.W, net.W - np.float32(0.1) * grads.W, rtol=1e-6)


def quadratic(p, x):
    return np.sum((x @ p["w"]) ** 2)


OPT = AdamW(lr=0.1)


def step_inside(p, s, x):
    return OPT.update(p, adcompiler.grad(quadratic)(p, x), s)


def test_an_update_inside_traced_code_is_an_error_that_says_where_to_call_it():
    p = {"w": np.ones((2, 2))}
    with pytest.raises(adcompiler.TraceError, match=r"test_optim.py:\d+: AdamW.update runs "
                       "compiled code of its own .* call it outside the traced function"):
        adcompiler.jit(step_inside)(p, OPT.init(p), np.ones((3, 2)))


def test_trees_grad_returns_with_none_are_accumulated_and_clipped(backend):
    """`grad` gives None for an integer leaf and a float for a Python-float one: the
    accumulator took None for an object array (a TraceError about 'acc.0'), clipping read
    `.dtype` of the first leaf (None, 0.5), and an empty tree raised IndexError."""
    params = {"idx": np.array([0, 2]), "w": np.linspace(-1.0, 1.0, 6).reshape(2, 3),
              "scale": 0.5}
    x = np.linspace(0.5, 1.5, 6).reshape(3, 2)

    def loss(p, x):
        return p["scale"] * np.sum((x @ p["w"])[:, p["idx"]] ** 2)

    vg = adcompiler.value_and_grad(loss, backend=backend)
    acc = GradAccumulator(backend=backend)
    for k in (1.0, 3.0):
        acc.add(*vg(params, k * x))
    _, mean = acc.mean()
    cols = (x @ params["w"])[:, params["idx"]]
    d_w = np.zeros((2, 3))
    d_w[:, params["idx"]] = x.T @ cols      # d/dw of 0.5 sum(cols^2) at x
    assert mean["idx"] is None
    np.testing.assert_allclose(mean["w"], (1 + 9) / 2 * d_w, rtol=1e-12)
    np.testing.assert_allclose(mean["scale"], (1 + 9) / 2 * np.sum(cols ** 2), rtol=1e-12)
    clipped, norm = clip_by_global_norm(mean, 1.0, backend=backend)
    want = math.sqrt(np.sum(mean["w"] ** 2) + mean["scale"] ** 2)
    assert clipped["idx"] is None and norm == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(clipped["w"], mean["w"] / (want + 1e-6), rtol=1e-12)
    assert clip_by_global_norm({"a": None}, 1.0, backend=backend) == ({"a": None}, 0.0)


def test_mixed_dtype_trees_keep_each_leafs_precision(backend):
    """The mean's 1/count and the clip's max_norm took the first leaf's dtype: a float64
    leaf after a float32 one was averaged and clipped with float32 constants."""
    g = [{"a": np.ones(2, np.float32), "b": np.array([2.0, 4.0]) * k} for k in (1, 2, 3)]
    acc = GradAccumulator(backend=backend)
    for t in g:
        acc.add(0.0, t)
    _, mean = acc.mean()
    assert mean["a"].dtype == np.float32 and mean["b"].dtype == np.float64
    np.testing.assert_array_equal(mean["b"], [4.0, 8.0])
    big = {"a": np.ones(2, np.float32), "b": np.full(2, 3.0)}
    clipped, norm = clip_by_global_norm(big, 0.1, backend=backend)
    np.testing.assert_allclose(clipped["b"], 3.0 * 0.1 / (math.sqrt(20.0) + 1e-6), rtol=1e-15)
    assert clipped["a"].dtype == np.float32         # (as torch's clip_grad_norm_ keeps it)


def test_dicts_with_keys_of_several_types_are_trees(backend):
    """sorted() of {'b': ..., 0: ...} raised TypeError: the keys are ordered by type name."""
    params = {"b": np.ones(2), 0: np.full(3, 2.0)}
    grads = {"b": np.full(2, 0.5), 0: np.ones(3)}
    opt = SGD(lr=0.1, backend=backend)
    new, _, _ = opt.update(params, grads, opt.init(params))
    np.testing.assert_allclose(new["b"], 1.0 - 0.05)
    np.testing.assert_allclose(new[0], 2.0 - 0.1)
    assert list(new) == ["b", 0]


def test_a_none_gradient_of_a_parameter_is_named():
    """It was 'the gradient of 'b' is object[]'; a None parameter was 'object' too."""
    params = {"w": np.ones(2), "b": np.zeros(2)}
    opt = AdamW(lr=0.1, backend="numpy")
    with pytest.raises(adcompiler.AdcompilerError, match=r"gradient tree does not have the "
                       r"structure of the parameters: it has no 'b' \(None there is no array\)"):
        opt.update(params, {"w": np.ones(2), "b": None}, opt.init(params))
    lean = {"w": np.ones(2), "b": None}     # an optional bias left out: no parameter
    new, _, _ = opt.update(lean, {"w": np.ones(2), "b": None}, opt.init(lean))
    assert new["b"] is None and new["w"].shape == (2,)
