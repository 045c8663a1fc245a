import os; os.environ["ADCOMPILER_CACHE_DIR"] = "/tmp/hunt_new/cache"
import numpy as np, adcompiler
import warnings; warnings.simplefilter("ignore")
x = np.array([0.3, -0.5, 1.2])
def sim(x):
    t = 0.0
    while t < 1.0:
        x = x + 0.1 * np.sin(x)
        t += 0.1
    return np.sum(x ** 2)
def fdh(f, x, e=1e-4):
    g = lambda y: np.array([(f(y + d) - f(y - d)) / 2e-5 for d in np.eye(len(y)) * 1e-5])
    return np.array([(g(x + d) - g(x - d)) / (2 * e) for d in np.eye(len(x)) * e])
for be in ("numpy", "numba"):
    try:
        H = adcompiler.hessian(sim, backend=be)(x)
        print(be, "hessian err", np.max(np.abs(H - fdh(sim, x))))
    except Exception as e:
        print(be, "hessian EXC", type(e).__name__, str(e)[:300])
    try:
        gg = adcompiler.grad(lambda x: np.sum(adcompiler.grad(sim)(x) ** 2), backend=be)(x)
        print(be, "grad of grad ok", gg)
    except Exception as e:
        print(be, "grad of grad EXC", type(e).__name__, str(e)[:300])
    def inner_grad(x):
        t = 0.0
        while t < 1.0:
            x = x - 0.1 * adcompiler.grad(lambda z: np.sum(np.cos(z) * z))(x)
            t += 0.1
        return np.sum(x)
    try:
        v = adcompiler.jit(inner_grad, backend=be)(x)
        print(be, "grad inside while", np.allclose(v, inner_grad(x)))
    except Exception as e:
        print(be, "grad inside while EXC", type(e).__name__, str(e)[:300])
    try:
        # jvp through it
        v, t = adcompiler.jvp(sim, (x,), (np.ones(3),), backend=be)
        print(be, "jvp", np.isclose(t, (sim(x + 1e-6) - sim(x - 1e-6)) / 2e-6))
    except Exception as e:
        print(be, "jvp EXC", type(e).__name__, str(e)[:300])
