"""Text data for the GPT example: a corpus, its vocabulary, a train/validation split, batches.

    text, source = read_text(path)             # path None: the Python standard library's sources
    vocab = Vocab.build(text, "char"|"byte")   # ids are int64; decode(encode(text)) == text
    data = Dataset(vocab.encode(text), T, val_fraction)
    x, y = data.train_batch(rng, B)            # (B, T) windows and the next tokens
    data.val_batches(B, n), data.unigram_loss()

Errors a user can cause (missing, empty or undecodable file, a context longer than the data, a
text of one distinct character) raise `DataError` with a message that says what to do.

The built-in corpus is read from the running Python's own `.py` files (sorted, tests excluded,
at most `STDLIB_CHARS` characters), so it needs no download and starts in milliseconds; it
depends on the Python version, so the source is recorded in checkpoints with a hash.
"""
from __future__ import annotations

import hashlib
import os
import sysconfig

import numpy as np

STDLIB_CHARS = 2_000_000
_SKIP_DIRS = {"test", "tests", "site-packages", "idlelib", "lib2to3", "turtledemo",
              "__pycache__"}


class DataError(Exception):
    """Input data that cannot be trained on; the message says why and what to do."""


def stdlib_text(limit=None) -> str:
    limit = STDLIB_CHARS if limit is None else limit
    root = sysconfig.get_paths()["stdlib"]
    parts, n = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        # walk in sorted order so every run on one Python reads the same corpus
        dirnames[:] = sorted(d for d in dirnames
                             if d not in _SKIP_DIRS and not d.startswith("config-"))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    s = f.read()
            except (OSError, UnicodeDecodeError):
                continue      # a few stdlib files are in other encodings: skip them
            parts.append(s)
            n += len(s)
            if n >= limit:
                return "".join(parts)[:limit]
    if not parts:
        raise DataError(f"found no Python sources under {root}; pass --data PATH")
    return "".join(parts)


def read_text(path, vocab_kind="char"):
    """(text, description): a str for a char vocabulary, bytes for a byte vocabulary."""
    if path is None:
        text = stdlib_text()
        return (text if vocab_kind == "char" else text.encode("utf-8")), "python-stdlib"
    if not os.path.exists(path):
        raise DataError(f"--data {path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"--data {path}: is a directory; give a text file")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise DataError(f"--data {path}: the file is empty")
    if vocab_kind == "byte":
        return raw, os.path.abspath(path)
    try:
        return raw.decode("utf-8"), os.path.abspath(path)
    except UnicodeDecodeError as e:
        raise DataError(f"--data {path}: not UTF-8 ({e}); use --vocab byte for arbitrary "
                        "bytes") from None


def fingerprint(text) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(raw).hexdigest()[:16]


class Vocab:
    """`byte`: the 256 byte values; `char`: the distinct characters of the corpus, sorted."""

    def __init__(self, kind, chars=None):
        self.kind, self.chars = kind, chars
        self.size = 256 if kind == "byte" else len(chars)
        self._index = None if kind == "byte" else {c: i for i, c in enumerate(chars)}

    @classmethod
    def build(cls, text, kind):
        if kind == "byte":
            return cls("byte")
        if kind != "char":
            raise ValueError(f"unknown vocabulary {kind!r}")
        chars = sorted(set(text))
        if len(chars) < 2:      # nothing to predict: the loss is 0 from the start
            raise DataError(f"the text has {len(chars)} distinct character(s): a model needs "
                            "at least two to learn to tell apart")
        return cls("char", chars)

    def encode(self, text) -> np.ndarray:
        if self.kind == "byte":
            raw = text.encode("utf-8") if isinstance(text, str) else text
            return np.frombuffer(raw, np.uint8).astype(np.int64)
        unknown = sorted(set(text) - self._index.keys())
        if unknown:
            raise DataError(f"characters not in the vocabulary: {''.join(unknown[:20])!r}")
        return np.array([self._index[c] for c in text], np.int64)

    def decode(self, ids) -> str:
        if self.kind == "byte":
            return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self):
        return {"kind": self.kind, "chars": self.chars}

    @classmethod
    def from_json(cls, d):
        return cls(d["kind"], d["chars"])


class Dataset:
    """The first (1 - val_fraction) of the tokens train, the rest validates (a contiguous tail,
    so validation text is never seen in training)."""

    def __init__(self, ids, T, val_fraction=0.1):
        if not 0 < val_fraction < 1:
            raise DataError(f"the validation fraction must be in (0, 1), got {val_fraction}")
        n_val = int(len(ids) * val_fraction)
        self.train, self.val, self.T = ids[:len(ids) - n_val], ids[len(ids) - n_val:], T
        for name, part in (("training", self.train), ("validation", self.val)):
            if len(part) < T + 1:
                raise DataError(
                    f"the {name} part has {len(part)} tokens ({len(ids)} in all, "
                    f"{val_fraction:.3%} validation) but a context of T={T} needs at least "
                    f"{T + 1}: use more text, a {'larger' if name == 'validation' else 'smaller'}"
                    " --val-fraction or a smaller --config")

    def train_batch(self, rng, B):
        starts = rng.integers(0, len(self.train) - self.T, B)
        return self._windows(self.train, starts)

    def val_batches(self, B, n):
        """n fixed batches of windows spread evenly over the validation text."""
        starts = np.linspace(0, len(self.val) - self.T - 1, n * B).astype(np.int64)
        return [self._windows(self.val, starts[k * B:(k + 1) * B]) for k in range(n)]

    def _windows(self, ids, starts):
        idx = starts[:, None] + np.arange(self.T + 1)
        w = ids[idx]
        return np.ascontiguousarray(w[:, :-1]), np.ascontiguousarray(w[:, 1:])

    def unigram_loss(self, V) -> float:
        """Validation cross-entropy (nats/token) of the training unigram distribution
        (add-one smoothed): what a model that ignores the context can reach."""
        counts = np.bincount(self.train, minlength=V).astype(np.float64) + 1.0
        logp = np.log(counts / counts.sum())
        return float(-logp[self.val].mean())
