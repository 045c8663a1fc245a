"""adcompiler.transforms: IR-to-IR optimisation passes, one per module.

Importing this package registers each pass in the pass manager's table
(`adcompiler.ir.passes.PASSES`) under its module's name: `inline`, `simplify`, `fold`, `cse`,
`dce`, `licm`. Run them with `adcompiler.ir.passes.run_passes(fn, names)`, or call one directly
(`from adcompiler.transforms.dce import dce`).
"""
from . import cse, dce, fold, inline, licm, simplify  # noqa: F401  (each registers its pass)
