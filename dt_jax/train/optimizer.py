"""AdamW with linear warm-up and cosine decay, after global-norm gradient clipping; optional frozen parameters."""
from __future__ import annotations

import re
from typing import Sequence

import jax
import optax

from dt_jax.train import sharding


def make(*, learning_rate: float, warmup_steps: int, total_steps: int, weight_decay: float,
         clip_norm: float, frozen: Sequence[str] = ()) -> optax.GradientTransformation:
  """`frozen`: regexes over '/'-joined parameter paths; matching parameters get zero updates (and no Adam state),
  the clipping norm counts only the trained ones."""
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=learning_rate, warmup_steps=max(warmup_steps, 1),
      decay_steps=max(total_steps, warmup_steps + 1), end_value=0.1 * learning_rate)
  tx = optax.chain(optax.clip_by_global_norm(clip_norm), optax.adamw(schedule, weight_decay=weight_decay))
  if not frozen:
    return tx
  patterns = [re.compile(p) for p in frozen]

  def labels(params):
    def label(path, _):
      name = sharding.path_name(path)
      return "frozen" if any(p.search(name) for p in patterns) else "trained"
    return jax.tree_util.tree_map_with_path(label, params)
  return optax.multi_transform({"trained": tx, "frozen": optax.set_to_zero()}, labels)


def frozen_audio_encoder(*, feature_extractor: bool, layers: int) -> list[str]:
  """Regexes freezing the teacher encoder's conv feature extractor and its first `layers` transformer layers
  (FaceDiffuser's recipe for a pretrained HuBERT / wav2vec2)."""
  out = [r"^audio_encoder/conv_(norm_)?\d+/"] if feature_extractor else []
  return out + [rf"^audio_encoder/layer_{i}/" for i in range(layers)]
