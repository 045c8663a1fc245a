"""adcompiler.optim: training a model whose gradients come from adcompiler.

    AdamW, SGD                  optimisers over parameter trees; the update is compiled code
    clip_by_global_norm         global-norm gradient clipping (also built into the optimisers)
    GradAccumulator             mean gradient over micro-batches
    warmup_cosine               linear warm-up then cosine decay of the learning rate
    flatten, unflatten          parameter trees <-> (paths, leaves), e.g. for .npz checkpoints
    owners                      the leaves that are one array (a tied weight's places)

Every optimiser state is a tree of arrays (flatten it with paths and save it with np.savez);
each module's docstring states its contract.
"""
from .accumulate import GradAccumulator
from .clip import clip_by_global_norm, clip_grads
from .optimizers import SGD, AdamW
from .schedule import warmup_cosine
from .tree import flatten, owners, tree_zeros_like, unflatten

__all__ = ["AdamW", "GradAccumulator", "SGD", "clip_by_global_norm", "clip_grads", "flatten",
           "owners", "tree_zeros_like", "unflatten", "warmup_cosine"]
