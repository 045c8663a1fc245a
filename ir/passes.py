"""The pass manager: runs named IR-to-IR passes in order and lets a person see the IR between
stages.

Contract:
- A pass is a function `fn -> fn`; it may mutate `fn` in place and must return the result.
  Passes live in `PASSES` (name -> function). `ir/` stays free of NumPy, so the standard
  passes are defined in `adcompiler/transforms/`, which registers them here with
  `register_pass`; `run_passes` imports that package on first need.
- `run_passes(fn, names)` applies the passes in order (`names`: an iterable or a
  comma-separated string). With `verify=True` (default: the
  environment variable `ADC_DEBUG` is set to something other than "" or "0") it runs the
  verifier after each pass and names the pass that broke the IR.
- Any stage calls `maybe_print(stage, fn)`: the IR is printed (to stderr) when `stage` is
  listed in `ADC_PRINT_AFTER` (comma-separated; `all` prints every stage), e.g.
  `ADC_PRINT_AFTER=frontend,ad,cse`. `run_passes` calls it after each pass with the pass name.
  A name that is no stage (`STAGES` and the passes) is warned about once, not ignored.
- A compiled NumPy callable cached on `fn.meta` is dropped after each pass: it ran the old IR.
"""
from __future__ import annotations

import functools
import importlib
import os
import sys
import warnings
from typing import Callable, Iterable

from .verify import VerifyError, verify as verify_fn

DEFAULT_PIPELINE = ("inline", "simplify", "fold", "cse", "dce")
PASSES: dict[str, Callable] = {}


def register_pass(name: str):
    """Decorator: make `fn -> fn` available to `run_passes` under `name`."""
    def register(pass_fn: Callable) -> Callable:
        PASSES[name] = pass_fn
        return pass_fn
    return register


STAGES = {"frontend", "ad", "all"}      # and the passes' names


def _print_stages(extra: Iterable[str] = ()) -> set[str]:
    names = frozenset(s.strip() for s in os.environ.get("ADC_PRINT_AFTER", "").split(",")) - {""}
    if names:
        _check_stages(names)
    return names | set(extra)


@functools.cache
def _check_stages(names: frozenset) -> None:
    """Warn, once per setting, of names in ADC_PRINT_AFTER that no stage has."""
    importlib.import_module("adcompiler.transforms")    # (registers the passes)
    unknown = sorted(names - STAGES - set(PASSES))
    if unknown:
        # (an environment variable has no line of the user's to point at)
        warnings.warn(f"ADC_PRINT_AFTER names no stage {', '.join(map(repr, unknown))}; the "
                      f"stages: {', '.join(sorted(STAGES | set(PASSES)))}")


def maybe_print(stage: str, fn, print_after: Iterable[str] = ()) -> None:
    """Print `fn`'s IR after `stage` when the stage is asked for (`ADC_PRINT_AFTER` or
    `print_after`)."""
    stages = _print_stages(print_after)
    if stage in stages or "all" in stages:
        print(f"// ----- IR after {stage} -----\n{fn}", file=sys.stderr, end="", flush=True)


def _debug() -> bool:
    return os.environ.get("ADC_DEBUG", "") not in ("", "0")


def get_pass(name: str) -> Callable:
    if name not in PASSES:
        # the standard passes need NumPy, so they are loaded only when asked for
        importlib.import_module("adcompiler.transforms")
    try:
        return PASSES[name]
    except KeyError:
        raise KeyError(f"unknown pass {name!r}; known: {', '.join(sorted(PASSES))}") from None


def run_passes(fn, names: Iterable[str] = DEFAULT_PIPELINE, print_after: Iterable[str] | None = None,
               verify: bool | None = None):
    """Apply the passes `names` to `fn` in order; return the resulting function."""
    verify = _debug() if verify is None else verify
    if isinstance(names, str):
        names = names.split(",")
    print_after = tuple(print_after or ())
    for name in names:
        fn = get_pass(name)(fn)
        fn.meta.pop("numpy_callable", None)
        if verify:
            try:
                verify_fn(fn)
            except VerifyError as e:
                raise VerifyError(f"after pass {name!r}: {e}") from e
        maybe_print(name, fn, print_after)
    return fn
