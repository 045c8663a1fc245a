"""Built programs on disk (`cache.load_program` / `store_program`, used by `program.build`): a
second build of the same IR reads the drivers, kernel sources and buffer plans back, computes
what the NumPy reference computes, gets buffers of its own, and a damaged entry is built again.
A gradient's fused driver is found by its adjoint's key, without splicing the program again."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import adcompiler
from adcompiler.backends.numba_cpu import program
from adcompiler.frontend import trace


def mlp(w, x):
    return np.tanh(x @ w) * 2.0 + 1.0


ARGS = (np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.linspace(0.0, 1.0, 8).reshape(2, 4))


def _build():
    fn = program.inlined(trace(mlp, *ARGS))
    _, ns, _ = program.build(fn.name, lambda: [(fn, True)])
    return ns[fn.name], ns[f"arena_{fn.name}"]


def test_a_second_build_reads_the_first_back(own_programs_dir, monkeypatch):
    want = mlp(*ARGS)
    first, arena1 = _build()
    assert len(list(own_programs_dir.glob("*.pkl"))) == 1
    monkeypatch.setattr(program, "_generate", None)     # a second build must not generate
    second, arena2 = _build()
    a = first(*ARGS)
    b = second(*ARGS)
    assert arena1 is not arena2 and a is not b
    np.testing.assert_allclose(a, want, rtol=1e-12)
    np.testing.assert_allclose(b, want, rtol=1e-12)
    np.testing.assert_allclose(a, want, rtol=1e-12)     # b did not write into a's buffers


def test_a_damaged_entry_is_built_again(own_programs_dir):
    _build()
    (entry,) = own_programs_dir.glob("*.pkl")
    entry.write_bytes(b"not a pickle")
    driver, _ = _build()
    np.testing.assert_allclose(driver(*ARGS), mlp(*ARGS), rtol=1e-12)
    assert entry.read_bytes() != b"not a pickle"


def test_grad_through_the_api_is_unchanged_by_the_cache(own_programs_dir):
    def loss(w, x):
        return np.sum(mlp(w, x) ** 2)
    ref = adcompiler.grad(loss, backend="numpy")(*ARGS)
    for _ in range(2):      # built, then read back
        got = adcompiler.grad(loss, backend="numba")(*ARGS)
        np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_a_new_gradient_program_finds_its_driver_by_the_adjoint_key(own_programs_dir,
                                                                     monkeypatch):
    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 3)
    ref = adcompiler.grad(loss, backend="numpy")(*ARGS)
    np.testing.assert_allclose(adcompiler.grad(loss, backend="numba")(*ARGS), ref, rtol=1e-10)
    monkeypatch.setattr(program, "spliced", None)       # a second program must not splice
    monkeypatch.setattr(program, "_generate", None)
    got = adcompiler.grad(loss, backend="numba")(*ARGS)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    other = adcompiler.grad(lambda w, x: loss(w, x) * 2.0, backend="numba")
    with pytest.raises(TypeError):      # another function's adjoint has a key of its own
        other(*ARGS)


def test_a_damaged_kernel_file_is_written_again(tmp_path, monkeypatch):
    """A kernel file cut short or emptied (a full disk, a killed copy) was imported as it was:
    a SyntaxError, or a module without the kernel."""
    from adcompiler.backends.numba_cpu import cache
    monkeypatch.setattr(cache, "cache_dir", lambda: tmp_path)
    source = f"def damaged_kernel_{id(tmp_path)}(x):\n    return x + 1\n"
    path = tmp_path / f"k_{cache.key(source)}.py"
    path.write_text(cache.HEADER + source[:20])
    module = cache.load(source)
    assert getattr(module, f"damaged_kernel_{id(tmp_path)}")(1) == 2
    assert path.read_text() == cache.HEADER + source


@pytest.mark.skipif(bool(__import__("numba").config.CACHE_DIR),
                    reason="NUMBA_CACHE_DIR is set: Numba's files are not beside the kernel's")
def test_a_damaged_numba_cache_entry_is_compiled_again(tmp_path, monkeypatch):
    """Numba's index or data file of a kernel overwritten with garbage made the kernel's first
    call raise Numba's unpickling error (UnpicklingError, ValueError, EOFError...)."""
    import sys
    from adcompiler.backends.numba_cpu import cache
    monkeypatch.setattr(cache, "cache_dir", lambda: tmp_path)
    source = ("from numba import njit\n\n\n@njit(cache=True)\n"
              f"def body(x):\n    return x * 37.25 + {id(tmp_path) % 1000}.0\n")
    want = 3.0 * 37.25 + id(tmp_path) % 1000

    def fresh():
        """The kernel as a new process would import it."""
        k = cache.key(source)
        cache._MODULES.pop(k, None)
        sys.modules.pop(f"adcompiler_kernels.k_{k}", None)
        return cache.load(source).body

    assert fresh()(3.0) == want
    index, = tmp_path.glob("__pycache__/*.nbi")
    data, = tmp_path.glob("__pycache__/*.nbc")
    scale, other = struct.pack("<d", 37.25), struct.pack("<d", 41.5)
    assert data.read_bytes().count(scale) == 1
    for damaged, garbage in ((index, b"garbage"), (data, b"\x80\x05garbage"), (data, b""),
                             # one number of the machine code changed: its result was wrong
                             (data, data.read_bytes().replace(scale, other))):
        damaged.write_bytes(garbage)
        assert fresh()(3.0) == want
        body = fresh()
        assert body(3.0) == want and body.stats.cache_hits    # the entry was written again


@pytest.mark.skipif(bool(__import__("numba").config.CACHE_DIR),
                    reason="NUMBA_CACHE_DIR is set: Numba's files are not beside the kernel's")
def test_a_read_only_cache_folder_is_read(tmp_path, monkeypatch):
    """A warm cache folder the process cannot write (a prebuilt cache in a read-only image):
    Numba's in-tree locator wants a writable folder and fell back to its own in the user's
    home, where nothing was compiled: every kernel compiled again, kept outside the cache
    directory. (Read-only is simulated: Numba's probe and writes there fail as they would.)"""
    import sys
    from numba.core import caching
    from adcompiler.backends.numba_cpu import cache
    monkeypatch.setattr(cache, "cache_dir", lambda: tmp_path)
    sources = [("from numba import njit\n\n\n@njit(cache=True)\n"
                f"def body(x):\n    return x * {k}.5 + {id(tmp_path) % 1000}.0\n") for k in (3, 4)]

    def fresh(source):
        k = cache.key(source)
        cache._MODULES.pop(k, None)
        sys.modules.pop(f"adcompiler_kernels.k_{k}", None)
        return cache.load(source).body

    assert fresh(sources[0])(2.0) == 7.0 + id(tmp_path) % 1000      # compiled, kept
    cache.load(sources[1])                                          # its file only

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")
    monkeypatch.setattr(caching.InTreeCacheLocator, "ensure_cache_path", read_only)
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_index", read_only)
    warm = fresh(sources[0])
    assert warm(2.0) == 7.0 + id(tmp_path) % 1000 and warm.stats.cache_hits
    assert warm._cache._cache_path == str(tmp_path / "__pycache__")
    cold = fresh(sources[1])            # nothing kept for it: compiled, its save skipped
    assert cold(2.0) == 9.0 + id(tmp_path) % 1000 and not cold.stats.cache_hits


def test_numba_cache_entries_saved_at_once_keep_their_own_code(tmp_path):
    """Two processes adding a signature of one kernel at once (the precompiling helpers, a
    contiguous and a strided argument) both took data file 1: the index then sent one
    signature to the other's machine code (wrong values, or an unboxing TypeError)."""
    import threading
    import time
    from numba.core.caching import IndexDataCacheFile
    from adcompiler.backends.numba_cpu import cache

    def entries():
        f = IndexDataCacheFile(str(tmp_path), "kernel", "stamp")
        cache.guard_entries(f)
        return f

    def slowly(f):
        save_index = f._save_index
        f._save_index = lambda overloads: (time.sleep(0.2), save_index(overloads))
        return f

    writers = [threading.Thread(target=slowly(entries()).save, args=(key, f"code of {key}"))
               for key in ("contiguous", "strided")]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert [entries().load(key) for key in ("contiguous", "strided")] == \
        ["code of contiguous", "code of strided"]


def test_the_shown_source_quotes_the_lines_as_they_are_now(tmp_path, monkeypatch):
    """An edit that leaves the IR as it was (a comment) showed the older build's quote."""
    import importlib
    import sys
    module = tmp_path / "commented_model.py"
    text = "import numpy as np\n\n\ndef f(x):\n    return np.sum(np.log(x))   # {}\n"
    module.write_text(text.format("first"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "commented_model", raising=False)
    import commented_model
    x = np.array([2.0, 3.0])
    shown = adcompiler.grad(commented_model.f, backend="numba").adjoint_source(x)
    assert "# first" in shown
    module.write_text(text.format("second"))
    importlib.reload(commented_model)
    shown = adcompiler.grad(commented_model.f, backend="numba").adjoint_source(x)
    assert "# second" in shown and "# first" not in shown


UNWRITABLE_CACHE = """
import numpy as np
import adcompiler

def loss(x):
    return np.sum(np.tanh(x) ** 2)

x = np.linspace(0.0, 1.0, 5)
g = adcompiler.grad(loss, backend="numba")(x)
np.testing.assert_allclose(g, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-12)
print("ok")
"""


def test_a_cache_folder_that_cannot_be_made_costs_only_time(tmp_path):
    """ADCOMPILER_CACHE_DIR below a file (or in a read-only place): the Numba backend raised
    NotADirectoryError / PermissionError making its kernel files; they now go to a temporary
    folder of the process, with a warning saying so."""
    script = tmp_path / "user_program.py"
    script.write_text(UNWRITABLE_CACHE)
    (tmp_path / "a_file").write_text("")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, ADCOMPILER_CACHE_DIR=str(tmp_path / "a_file" / "c"),
                                   PYTHONPATH=os.pathsep.join(sys.path)), timeout=300)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
    assert "cannot write to the cache folder" in done.stderr


def test_numba_cache_entries_without_locks_or_loadable_code_are_compiled_again(tmp_path,
                                                                               monkeypatch):
    """A file system that takes no locks (NFS without a lock daemon: ENOLCK) made every save
    raise, and an entry sealed by an environment with other modules (its unpickling fails)
    made the kernel's call raise; both are saved unlocked / read as missing, as Numba's own."""
    import errno
    import fcntl
    import fractions
    import pickle
    from numba.core.caching import IndexDataCacheFile
    from adcompiler.backends.numba_cpu import cache

    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(fcntl, "flock", no_locks)
    f = IndexDataCacheFile(str(tmp_path), "kernel", "stamp")
    cache.guard_entries(f)
    f.save("signature", "machine code")
    assert f.load("signature") == "machine code"
    data, = tmp_path.glob("*.nbc")
    payload = pickle.dumps(fractions.Fraction(1, 3)).replace(b"fractions", b"nomodule")
    data.write_bytes(cache._seal("signature", payload) + payload)
    assert f.load("signature") is None
