"""Small programs for small_programs.py."""
import numpy as np


def rnn(W, U, xs, y):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(xs.shape[0]):            # unrolled: the number of steps is static
        h = np.tanh(h @ W + xs[t] @ U)
    return np.mean((h - y) ** 2)


def mlp(p, x, y):
    h = np.maximum(x @ p["W1"] + p["b1"], 0.0)
    return np.mean((h @ p["W2"] + p["b2"] - y) ** 2)


def logistic_steps(w, x, labels):
    """The loss after ten gradient-free refinements of the bias in a run-time loop."""
    b = np.float64(0.0)
    k = np.int64(0)
    while k < 10:                           # a loop on a run-time value
        z = x @ w + b
        b = b - 0.1 * np.mean(1 / (1 + np.exp(-z)) - labels)
        k = k + 1
    z = x @ w + b
    return np.mean(np.logaddexp(0.0, z) - labels * z)
