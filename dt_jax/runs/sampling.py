"""Sampling motion from a run: the whole jitted generator (audio in, motion out) and its per-batch and per-clip
forms used by evaluation, the benchmark, inference and export."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.data import normalization
from dt_jax.diffusion import samplers
from dt_jax.models import talker
from dt_jax.runs import loading


def sample_fn(model: talker.Talker, *, num_steps: int, stats: normalization.MotionStats, unroll: bool = False):
  """The whole jitted generator: (params, audio [B, S], mask [B, T], z_init [B, T, D]) -> motion [B, T, D] in data
  units; audio encoding once, then `num_steps` DDIM steps (`unroll`: written out, for exporters). An optional
  fifth argument {'identity' / 'emotion': [B, d]} overrides the personal embeddings (see Personalizer)."""
  @jax.jit
  def run(params, audio, mask, z_init, embeddings=None):
    feats, personal, _ = model.apply({"params": params}, audio, mask, embeddings=embeddings,
                                     method=talker.Talker.encode)
    denoise = lambda z, logsnr: model.apply({"params": params}, z, logsnr, feats, personal, mask,
                                            method=talker.Talker.denoise)
    x = samplers.sample(denoise, z_init=z_init, num_steps=num_steps, unroll=unroll)
    return normalization.denormalize(x, stats)
  return run


def diffusion_predictor(run: loading.Run, *, num_steps: int | None = None):
  """predict(batch, seed) -> motion [B, T, D] (data units) sampled in `num_steps` (default: the run's) DDIM steps
  from the noise of `seed`."""
  fn = sample_fn(run.model, num_steps=num_steps or run.num_steps, stats=run.stats)

  def predict(batch, seed):
    z = jax.random.normal(jax.random.PRNGKey(seed), batch["motion"].shape)
    return fn(run.params, batch["audio"], batch["mask"], z)
  return predict


def static_predictor(batch, seed):
  """The neutral face (zero weights / zero offsets): the floor every model must beat."""
  del seed
  return jnp.zeros_like(batch["motion"])


def sample_clip(run: loading.Run, example: dict, *, num_steps: int | None = None, seed: int = 0) -> np.ndarray:
  """One dataset example's audio -> motion [T, D] (data units), T = the example's frame count."""
  frames = len(example["motion"])
  fn = sample_fn(run.model, num_steps=num_steps or run.num_steps, stats=run.stats)
  z = jax.random.normal(jax.random.PRNGKey(seed), (1, frames, run.dataset.motion_dim))
  audio = jnp.asarray(example["audio"], jnp.float32)[None]
  return np.asarray(fn(run.params, audio, jnp.ones((1, frames)), z)[0])
