"""Golden IR texts of representative models (tests/frontend/golden/*.ir).

Each golden is compared with what `trace` prints now, parses back to an equal function that
verifies, and the traced function evaluates to what NumPy computes. Regenerate the files after
an intended change with `ADC_UPDATE_GOLDEN=1 python -m pytest tests/frontend -k golden`."""
import os
import pathlib

import pytest

import adcompiler
from adcompiler.ir import parse, verify
from fe_models import CASES
from fecheck import check

GOLDEN = pathlib.Path(__file__).parent / "golden"
UPDATE = os.environ.get("ADC_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_ir(name):
    f, make_args = CASES[name]
    args = make_args()
    fn = check(f, *args)
    text = str(fn)
    path = GOLDEN / f"{name}.ir"
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"no golden {path.name}; run with ADC_UPDATE_GOLDEN=1 to create it"
    golden = path.read_text()
    assert text == golden, f"IR of {name} differs from {path} (ADC_UPDATE_GOLDEN=1 regenerates)"
    back = parse(golden)
    verify(back)
    assert back == fn and str(back) == golden


def test_gpt_block_in_float32_stays_float32():
    fn = adcompiler.trace(*[CASES["gpt_block"][0], *CASES["gpt_block"][1]()])
    assert "f64" not in str(fn)


def test_golden_files_have_no_strays():
    assert {p.stem for p in GOLDEN.glob("*.ir")} == set(CASES)
