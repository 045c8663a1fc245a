"""With Numba's JIT disabled (NUMBA_DISABLE_JIT=1, a common way to debug Numba code), the Numba
backend says so in an adcompiler error instead of failing inside its runtime, and the NumPy
backend still gives the gradient (checked against the hand-written one)."""
import os
import subprocess
import sys

PROGRAM = """
import numpy as np
import adcompiler
from adcompiler.errors import AdcompilerError

def loss(w, x):
    return np.sum(np.tanh(x @ w))

w = np.linspace(-1, 1, 6).reshape(3, 2)
x = np.linspace(0, 2, 12).reshape(4, 3)
g = adcompiler.grad(loss, backend="numpy")(w, x)
np.testing.assert_allclose(g, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-12)
try:
    adcompiler.grad(loss, backend="numba")(w, x)
except AdcompilerError as e:
    print("error:", e)
"""


def test_numba_backend_refuses_a_disabled_jit_in_words(tmp_path):
    script = tmp_path / "user_program.py"      # adcompiler reads the user's source file
    script.write_text(PROGRAM)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_DISABLE_JIT="1",
                                   PYTHONPATH=os.pathsep.join(sys.path)), timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("error: backend 'numba'"), done.stdout + done.stderr
    assert "NUMBA_DISABLE_JIT" in done.stdout
