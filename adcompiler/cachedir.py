"""Where adcompiler keeps what a second process reuses: `ADCOMPILER_CACHE_DIR`, else
`~/.cache/adcompiler`. Subfolders: `adjoints/` (`ad.cache`), `kernels/` (the Numba backend's
kernel files and Numba's own cache), `programs/` (the Numba backend's built drivers).

- `cache_dir(sub)`: the folder, made if missing.
- `source_stamp(files, *extra)`: a hash of source files (and strings) that a cached thing was
  made by: part of its key, so changing that code makes new entries.
- `read_entry(sub, name)` / `write_entry(sub, name, data)`: one entry's bytes. A missing or
  unreadable entry, or a folder that cannot be made, reads as None and is not written (it only
  costs the next process time); an entry is written whole and then renamed, so a concurrent
  process reads all of one or nothing. Each file starts with a hash of its bytes, and one
  whose bytes no longer match it (changed on disk, by a bad sector or by hand) reads as None
  too: a changed number in an adjoint or a driver would compute a wrong gradient silently.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def cache_dir(sub: str) -> Path:
    """The folder `sub` of the cache directory, made if missing."""
    root = os.environ.get("ADCOMPILER_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "adcompiler")
    path = Path(root) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_stamp(files, *extra: str) -> str:
    h = hashlib.sha1("\0".join(extra).encode())
    for path in sorted(files):
        h.update(path.read_bytes())
    return h.hexdigest()


_HASH = hashlib.sha1


def read_entry(sub: str, name: str) -> bytes | None:
    try:
        raw = (cache_dir(sub) / name).read_bytes()
    except OSError:
        return None
    size = _HASH().digest_size
    stamp, data = raw[:size], raw[size:]
    return data if len(raw) >= size and _HASH(data).digest() == stamp else None


def write_entry(sub: str, name: str, data: bytes) -> None:
    try:
        folder = cache_dir(sub)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(_HASH(data).digest() + data)
        os.replace(tmp, folder / name)
    except OSError:
        pass
