"""Checkpoints of the GPT example: `ckpt.npz` (arrays) + `ckpt.json` (everything else).

    save(out_dir, params, opt_state, meta)
    params, opt_state, meta = load(out_dir, params_like, opt_state_like)

The npz holds every leaf of the parameter tree under "params/<path>" and of the optimiser state
under "opt/<path>" (paths from adcompiler.optim.flatten), with their exact dtypes and bits, so a
resumed run continues bit for bit. The JSON holds the step, the model shapes, the vocabulary,
the training arguments and the data fingerprint. Both files are written to temporaries and
renamed, so an interrupted save leaves the previous checkpoint whole. A checkpoint that does
not fit (another model, a damaged file) raises `CheckpointError` saying which file and why.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib

import numpy as np

from adcompiler.optim import flatten, owners, unflatten

NPZ, JSON = "ckpt.npz", "ckpt.json"


class CheckpointError(ValueError):
    pass


def exists(out_dir) -> bool:
    return os.path.exists(os.path.join(out_dir, NPZ)) and os.path.exists(
        os.path.join(out_dir, JSON))


def save(out_dir, params, opt_state, meta):
    os.makedirs(out_dir, exist_ok=True)
    arrays = {}
    for prefix, tree in (("params", params), ("opt", opt_state)):
        paths, leaves = flatten(tree, prefix)
        arrays.update(zip(paths, leaves, strict=True))
    tmp = os.path.join(out_dir, NPZ + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(out_dir, NPZ))
    tmp = os.path.join(out_dir, JSON + ".tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, JSON))


def load_meta(out_dir):
    path = os.path.join(out_dir, JSON)
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot read it ({e})") from None
    if not isinstance(meta, dict) or any(k not in meta for k in ("step", "shapes", "args")):
        raise CheckpointError(f"{path}: not a checkpoint written by train.py")
    return meta


# what reading a cut-short or overwritten .npz raises (a zip archive of .npy files)
DAMAGED = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def load(out_dir, params_like, opt_state_like):
    """Fill trees shaped like `params_like` / `opt_state_like` from the checkpoint (an
    `opt_state_like` of None skips the optimiser state and returns None for it)."""
    try:
        z = np.load(os.path.join(out_dir, NPZ))
    except DAMAGED as e:    # (a file that is no .npz at all reads as pickled data to NumPy)
        why = "not a NumPy .npz archive" if "pickled" in str(e) else e
        raise CheckpointError(f"{out_dir}/{NPZ}: cannot read it ({why})") from None
    with z:
        trees = []
        for prefix, like in (("params", params_like), ("opt", opt_state_like)):
            if like is None:
                trees.append(None)
                continue
            paths, leaves = flatten(like, prefix)
            missing = [p for p in paths if p not in z.files]
            if missing:
                raise CheckpointError(f"{out_dir}/{NPZ} lacks {', '.join(missing[:5])}: it "
                                      "was written for another model or optimiser")
            out = []
            for p, x in zip(paths, leaves, strict=True):
                try:
                    a = z[p]
                except DAMAGED as e:
                    raise CheckpointError(f"{out_dir}/{NPZ}: cannot read {p} ({e})") from None
                if a.shape != np.shape(x):
                    raise CheckpointError(f"{out_dir}/{NPZ}: {p} has shape {a.shape}, the "
                                          f"model needs {np.shape(x)}")
                out.append(a)
            # a tied weight (one array at several places of `like`) stays one array
            trees.append(unflatten(like, [out[o] for o in owners(leaves)]))
    return trees[0], trees[1], load_meta(out_dir)
