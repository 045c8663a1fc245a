"""model.py's parameter tree <-> the canonical flat names of ../../shared/bench/gptconfig.py.

    tree = from_canonical(flat, n_layer)     {"wte", "wpe", "layers": [...], "lnf_*", "head_w"}
    flat = to_canonical(tree)                {"wte", "wpe", "h0.ln1_g", ..., "head_w"}

Both layouts are `x @ W + b` with W of shape (in, out), so only the names change; the arrays are
shared, not copied.
"""
LAYER_KEYS = ("ln1_g", "ln1_b", "attn_w", "attn_b", "proj_w", "proj_b", "ln2_g", "ln2_b",
              "fc_w", "fc_b", "fc2_w", "fc2_b")
TOP_KEYS = ("wte", "wpe", "lnf_g", "lnf_b", "head_w")


def from_canonical(flat, n_layer):
    tree = {k: flat[k] for k in TOP_KEYS}
    tree["layers"] = [{k: flat[f"h{i}.{k}"] for k in LAYER_KEYS} for i in range(n_layer)]
    return tree


def to_canonical(tree):
    flat = {k: tree[k] for k in TOP_KEYS}
    for i, layer in enumerate(tree["layers"]):
        flat.update({f"h{i}.{k}": layer[k] for k in LAYER_KEYS})
    return flat
