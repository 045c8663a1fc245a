"""Backend tests share one Numba disk cache under the repository (`.cache/`, ignored by git)
unless ADCOMPILER_CACHE_DIR is set, so a second run loads compiled kernels instead of
compiling them."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("ADCOMPILER_CACHE_DIR",
                      str(Path(__file__).resolve().parents[2] / ".cache" / "adcompiler"))


@pytest.fixture
def own_programs_dir(tmp_path, monkeypatch):
    """Built programs go to a folder of this test's own (kernels keep the shared, warm one):
    for tests that count entries, or build drivers unlike the usual ones."""
    from adcompiler import cachedir
    shared = cachedir.cache_dir

    def where(sub):
        if sub != "programs":
            return shared(sub)
        (tmp_path / sub).mkdir(exist_ok=True)
        return tmp_path / sub
    monkeypatch.setattr(cachedir, "cache_dir", where)
    return tmp_path / "programs"
