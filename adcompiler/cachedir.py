"""Where adcompiler keeps what a second process reuses: `ADCOMPILER_CACHE_DIR`, else
`~/.cache/adcompiler`. Subfolders: `adjoints/` (`ad.cache`), `kernels/` (the Numba backend's
kernel files and Numba's own cache)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(sub: str) -> Path:
    """The folder `sub` of the cache directory, made if missing."""
    root = os.environ.get("ADCOMPILER_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "adcompiler")
    path = Path(root) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path
