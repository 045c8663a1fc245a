"""Where kernels live: one source file per kernel under the cache directory, so Numba's
`cache=True` can keep their machine code on disk (Numba cannot disk-cache a function made by
`exec`: it needs a real file) and a second process starts warm.

Contract: `load(source)` returns the module of that exact source, written once to
`<cache dir>/kernels/k_<sha1>.py` (never rewritten: Numba's cache is keyed by the file and its
time stamp); `load_key(key)` imports such a file by its key (`module.KEY`). Numba's entries for
a kernel (an index file, a data file of machine code per signature) are written under a lock
(Numba's own `save` lets two processes that add signatures at once take one data file: one
signature then runs the other's code) and each data file holds a SHA-256 of its signature's key
and its bytes: a damaged entry (an index or data file cut short or overwritten, one changed
number in the machine code) or one that holds another signature's code is read as missing, so
the kernel compiles anew and its entry is written again, where Numba would raise, abort in
LLVM or run it. The file name
is the hash of the text, so identical kernels (the layers of a model) are one file, one
module, one compilation. The directory is `ADCOMPILER_CACHE_DIR`, else
`~/.cache/adcompiler`; Numba's own cache files go to `__pycache__` beside the kernel files
unless `NUMBA_CACHE_DIR` says otherwise, and are read from there where the process cannot
write the folder (a prebuilt, read-only cache: `_ReadOnlyKernels`; what it lacks compiles
anew in each process). Where the folder cannot be made or written, the
process (and its helper processes) cache in a temporary folder instead, with a warning: kernels
compile, but are not kept for the next process. The header of every kernel carries a hash of the
helpers it calls (`mathlib.py`), so changing them invalidates the cached machine code.

Built programs live there too: `load_program(key)` / `store_program(key, built)` keep what
`program.build` makes of a set of IR functions (driver source, kernel sources, buffer plans) in
`<cache dir>/programs/<sha1>.pkl`, so a second process skips fusion, planning and code
generation (0.1 s for the medium GPT's gradient, as much for its AdamW step). `program_key`
hashes the IR texts, their full source locations and the user's lines the drivers quote, or
for a gradient's fused driver its adjoint's key (`Adjoint.key`, which names the same texts and
lines), with the sources that turn IR into drivers (this backend, the NumPy backend's code
generator, the ops, the IR package) and the options. An entry that cannot be read is built again.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import itertools
import os
import pickle
import re
import shutil
import sys
import tempfile
import types
from pathlib import Path

from numba.core import caching

from ...cachedir import cache_dir as adcompiler_cache_dir, read_entry, source_stamp, write_entry
from ...errors import warn_at_caller


_MODULES: dict = {}


def cache_dir() -> Path:
    try:
        return adcompiler_cache_dir("kernels")
    except OSError as e:
        return _elsewhere(e)


def _elsewhere(error) -> Path:
    """Where the cache folder cannot be made or written: a temporary one for this process
    (Numba needs the kernels as files) and the helper processes it starts (precompile.py,
    which inherit ADCOMPILER_CACHE_DIR), removed at exit."""
    folder = tempfile.mkdtemp(prefix="adcompiler-cache-")
    warn_at_caller(f"adcompiler: cannot write to the cache folder ({error}); this process "
                   "caches in a temporary folder, not kept for the next one (set "
                   "ADCOMPILER_CACHE_DIR to a folder that can be written)", UserWarning)
    os.environ["ADCOMPILER_CACHE_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return adcompiler_cache_dir("kernels")


@functools.cache
def _code_stamp() -> str:
    backends = Path(__file__).resolve().parents[1]
    from ... import ir, ops
    return source_stamp([*Path(__file__).parent.glob("*.py"), backends / "numpy" / "codegen.py",
                         *Path(ops.__file__).parent.glob("*.py"),
                         *Path(ir.__file__).parent.glob("*.py")])


def program_key(*parts) -> str:
    return hashlib.sha1(repr((_code_stamp(),) + parts).encode()).hexdigest() + ".pkl"


def load_program(key: str):
    raw = read_entry("programs", key)
    if raw is None:
        return None
    try:
        return pickle.loads(raw)
    except Exception:   # noqa: BLE001  damaged: build it again
        return None


def store_program(key: str, built) -> None:
    write_entry("programs", key, pickle.dumps(built))


HEADER = ("# adcompiler numba kernel (helpers "
          f"{source_stamp([Path(__file__).parent / 'mathlib.py'])[:12]})\n")


def key(source: str) -> str:
    return hashlib.sha1((HEADER + source).encode()).hexdigest()[:16]


def _path(k: str) -> Path:
    return cache_dir() / f"k_{k}.py"


_KERNEL_FILE = re.compile(r"k_[0-9a-f]{16}\.py")     # what `_path` names


def load(source: str):
    """The imported module of kernel `source` (see the module docstring)."""
    k = key(source)
    if k in _MODULES:
        return _MODULES[k]
    path = _path(k)
    text = HEADER + source
    damaged = path.exists() and path.read_text(errors="replace") != text
    if damaged or not path.exists():
        try:
            _write(path, text, damaged)
        except OSError as e:        # a cache folder this process cannot write
            _write(_elsewhere(e) / path.name, text, False)
    return load_key(k)


def _write(path, text, damaged) -> None:
    """Write a kernel file then rename it: a concurrent process never reads half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        if damaged:         # (cut short, emptied): replaced, and so compiled anew
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails when another process wrote it first: keep theirs
    except FileExistsError:
        pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_key(k: str):
    """The imported module of the kernel file with key `k` that `load` wrote (in this or
    another process)."""
    if k in _MODULES:
        return _MODULES[k]
    if "adcompiler_kernels" not in sys.modules:     # the parent of the kernel modules
        sys.modules["adcompiler_kernels"] = types.ModuleType("adcompiler_kernels")
    name = f"adcompiler_kernels.k_{k}"
    spec = importlib.util.spec_from_file_location(name, _path(k))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for value in vars(module).values():
        cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
        if cache_file is not None:      # a dispatcher with Numba's disk cache
            guard_entries(cache_file)
    module.KEY = k
    _MODULES[k] = module
    return module


def on_disk(dispatcher) -> bool:
    """Does Numba's disk cache hold an index of `dispatcher`'s compiled signatures (some
    signature of it is there)? Numba's private API; where it differs, True."""
    try:
        return os.path.exists(dispatcher._cache._cache_file._index_path)
    except AttributeError:
        return True


def guard_entries(cache_file):
    """Replace the `save` and `load` of Numba's `IndexDataCacheFile` of a kernel (or of
    runtime.py's cached functions) by ones that lock, seal and check its entries as the module
    docstring says (Numba's private API: the index maps a signature's key to a data file; its
    helpers read, write and name them)."""
    load_index = cache_file._load_index
    lock = cache_file._index_path + ".lock"

    def index():
        try:
            return load_index()
        except OSError:
            raise
        except Exception:   # noqa: BLE001  (unpickling garbage raises anything)
            return {}

    def save(key, data):
        try:
            _save(key, data)
        except OSError:     # a read-only cache folder, a full disk: only the next process
            pass            # compiles it again

    def _save(key, data):
        payload = cache_file._dump(data)
        with _locked(lock):
            overloads = index()
            name = overloads.get(key)
            if name is None:
                taken = set(overloads.values())
                name = next(n for n in map(cache_file._data_name, itertools.count(1))
                            if n not in taken)
                overloads[key] = name
                cache_file._save_index(overloads)
            with cache_file._open_for_write(cache_file._data_path(name)) as f:
                f.write(_seal(key, payload) + payload)

    def load(key):
        name = index().get(key)
        if name is None:
            return None
        try:
            with open(cache_file._data_path(name), "rb") as f:
                raw = f.read()
        except OSError:         # (removed meanwhile)
            return None
        seal, payload = raw[:32], raw[32:]
        if seal != _seal(key, payload):
            return None
        try:
            return pickle.loads(payload)
        except Exception:   # noqa: BLE001  (sealed by an environment with other modules)
            return None

    cache_file._load_index, cache_file.save, cache_file.load = index, save, load


class _ReadOnlyKernels(caching.InTreeCacheLocator):
    """Where Numba finds the entries of a kernel whose cache folder this process can read but
    not write (a prebuilt cache in a read-only image): its `__pycache__`, as it is. Numba's own
    locators want a folder they can write, and took one in the user's home instead, outside
    the cache directory, where nothing was compiled yet: a warm cache compiled everything
    again. Nothing is saved there (`guard_entries`' save skips a folder it cannot write)."""

    @classmethod
    def from_function(cls, py_func, py_file):
        path = Path(py_file)
        # (a kernel file's name first: another file's function makes no cache folder here)
        if not _KERNEL_FILE.fullmatch(path.name) or path.parent != cache_dir():
            return None
        self = cls(py_func, py_file)
        return self if os.path.isdir(self._cache_path) else None

    def ensure_cache_path(self):
        pass        # (read-only: the save that follows skips it)


# after Numba's own in-tree locator, which takes a writable folder, and a NUMBA_CACHE_DIR
_LOCATORS = caching.CacheImpl._locator_classes
if _ReadOnlyKernels not in _LOCATORS:
    _LOCATORS.insert(_LOCATORS.index(caching.InTreeCacheLocator) + 1, _ReadOnlyKernels)


def _seal(key, payload: bytes) -> bytes:
    return hashlib.sha256(repr(key).encode() + b"\0" + payload).digest()


@contextlib.contextmanager
def _locked(path):
    """An exclusive lock on the file `path` (made if missing; opened for reading, so one that
    another user made locks too) while the block runs; none where it cannot be made or the
    file system takes no locks (a read-only cache folder, NFS without a lock daemon): there
    Numba's own unlocked save is what runs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
