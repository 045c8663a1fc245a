"""Learning-rate schedules: functions from the step index (0, 1, ...) to a learning rate.

    warmup_cosine(base_lr, warmup_steps, total_steps, min_lr=0.0)(step)

Linear warm-up from base_lr/warmup_steps (step 0) to base_lr (step warmup_steps-1), so the first
update is never taken at lr 0; then a half cosine from base_lr (step warmup_steps) down to min_lr
(step total_steps-1; a cosine part of one step stays at base_lr); min_lr after that. A pure
function of the step, so a resumed run gets the same rates as an uninterrupted one.
"""
from __future__ import annotations

import math


def warmup_cosine(base_lr, warmup_steps, total_steps, min_lr=0.0):
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps}, "
                         f"{total_steps}")

    def lr(step):
        if step >= total_steps:             # (also where the warm-up fills total_steps)
            return min_lr
        if step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        frac = (step - warmup_steps) / max(1, total_steps - 1 - warmup_steps)   # <= 1 here
        return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * frac))

    return lr
