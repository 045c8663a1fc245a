"""Backend tests share one Numba disk cache under the repository (`.cache/`, ignored by git)
unless ADCOMPILER_CACHE_DIR is set, so a second run loads compiled kernels instead of
compiling them."""
import os
from pathlib import Path

os.environ.setdefault("ADCOMPILER_CACHE_DIR",
                      str(Path(__file__).resolve().parents[2] / ".cache" / "adcompiler"))
