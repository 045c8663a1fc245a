"""Generate text from a checkpoint written by train.py.

    python examples/gpt/sample.py                          # from runs/gpt
    python examples/gpt/sample.py --out DIR --prompt "def " --length 400 --temperature 0.8

The logits come from model.logits, run as plain NumPy (the model needs no compiler to run
forward); each new token is drawn from softmax(logits / temperature) restricted to the
`--top-k` most likely tokens, with the context cut to the model's last T tokens.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checkpoint  # noqa: E402
import model  # noqa: E402
from data import DataError, Vocab  # noqa: E402


def generate(params, shapes, prompt_ids, length, temperature, top_k, rng):
    ids = list(prompt_ids)
    for _ in range(length):
        ctx = np.array(ids[-shapes["T"]:], np.int64)[None, :]
        z = model.logits(params, ctx, shapes["H"])[0, -1].astype(np.float64)
        if not np.isfinite(z).all():
            raise ValueError("the parameters give NaN or infinite logits (a run that stopped on "
                             "NaN saved them)")
        if top_k and top_k < z.size:
            z[z < np.sort(z)[-top_k]] = -np.inf        # (checked finite before: these are out)
        p = np.exp((z - z.max()) / temperature)
        ids.append(int(rng.choice(z.size, p=p / p.sum())))
    return ids


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/gpt", help="the folder train.py wrote (ckpt.*)")
    ap.add_argument("--prompt", default="def ", help="text to continue")
    ap.add_argument("--length", type=int, default=300, help="tokens to generate")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not checkpoint.exists(args.out):
        ap.error(f"no checkpoint in {args.out}: run train.py first (or pass --out)")
    if not 0 < args.temperature < math.inf or args.length < 0 or args.top_k < 0 or args.seed < 0:
        ap.error("--temperature must be positive and finite, --length, --top-k and --seed not "
                 "negative")
    if not args.prompt:
        ap.error("--prompt: give at least one character to continue")
    try:
        meta = checkpoint.load_meta(args.out)
        shapes, vocab = meta["shapes"], Vocab.from_json(meta["vocab"])
        like = model.init_params(*(shapes[k] for k in ("V", "T", "d", "H", "L", "dff")))
        params, _, _ = checkpoint.load(args.out, like, None)
    except (checkpoint.CheckpointError, KeyError) as e:
        ap.error(f"{args.out}: {e}")
    try:
        prompt = vocab.encode(args.prompt)
    except DataError as e:
        ap.error(f"--prompt: {e}")
    try:
        ids = generate(params, shapes, prompt, args.length, args.temperature, args.top_k,
                       np.random.default_rng(args.seed))
    except ValueError as e:
        ap.error(f"{args.out}: {e}")
    print(vocab.decode(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
