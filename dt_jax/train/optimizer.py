"""AdamW with linear warm-up and cosine decay, after global-norm gradient clipping."""
from __future__ import annotations

import optax


def make(*, learning_rate: float, warmup_steps: int, total_steps: int, weight_decay: float,
         clip_norm: float) -> optax.GradientTransformation:
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=learning_rate, warmup_steps=max(warmup_steps, 1),
      decay_steps=max(total_steps, warmup_steps + 1), end_value=0.1 * learning_rate)
  return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adamw(schedule, weight_decay=weight_decay))
