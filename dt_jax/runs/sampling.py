"""Sampling motion from a run: the whole jitted generator (audio in, motion out) and its per-batch and per-clip
forms used by evaluation, the benchmark, inference and export."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dt_jax import timebase
from dt_jax.data import normalization
from dt_jax.diffusion import consistency
from dt_jax.diffusion import samplers
from dt_jax.models import talker
from dt_jax.runs import loading


def sample_fn(model: talker.Talker, *, num_steps: int, stats: normalization.MotionStats, unroll: bool = False,
              sampler: str = "ddim", guidance: float = 1.0, data_range=None):
  """The whole jitted generator: (params, audio [B, S], mask [B, T], z_init [B, T, D]) -> motion [B, T, D] in data
  units; audio encoding once, then `num_steps` DDIM steps (`unroll`: written out, for exporters) or, with
  sampler="consistency", multistep consistency sampling; `guidance` w != 1: classifier-free guidance at every
  step (diffusion/guidance.py); `data_range` (lo [D], hi [D] in data units, runs' `data_range`): every step's x
  prediction and the result are clipped to it. An optional fifth argument {'identity' / 'emotion':
  [B, d]} overrides the personal embeddings (see Personalizer)."""
  if sampler not in ("ddim", "consistency"):
    raise ValueError(f"unknown sampler {sampler!r}: ddim or consistency")
  x_range = loading.model_range(data_range, stats)

  @jax.jit
  def run(params, audio, mask, z_init, embeddings=None):
    feats, personal, _ = model.apply({"params": params}, audio, mask, embeddings=embeddings,
                                     method=talker.Talker.encode)
    denoise = talker.denoiser_fn(model, params, feats, personal, mask, guidance=guidance, x_range=x_range)
    if sampler == "consistency":
      f = lambda z, logsnr: consistency.consistency_fn(z=z, x_net=denoise(z, logsnr), logsnr=logsnr)
      x = consistency.sample(f, z_init=z_init, num_steps=num_steps)
    else:
      x = samplers.sample(denoise, z_init=z_init, num_steps=num_steps, unroll=unroll)
    x = normalization.denormalize(x, stats)
    return x if data_range is None else jnp.clip(x, data_range[0], data_range[1])
  return run


def run_sample_fn(run: loading.Run, *, num_steps: int | None = None):
  """sample_fn for `run` at `num_steps` (default: the run's), built once per run and step count, so animators,
  streams and predictors of one run share its compilations."""
  bounds = run.data_range
  key = ("sample", int(num_steps or run.num_steps), run.guidance, bounds is not None)   # a changed cfg compiles anew
  if key not in run.compiled:
    run.compiled[key] = sample_fn(run.model, num_steps=key[1], stats=run.stats, sampler=run.sampler,
                                  guidance=key[2], data_range=bounds)
  return run.compiled[key]


def run_encode_fn(run: loading.Run):
  """(params, audio [B, S], mask [B, T]) -> the personalizer's aux outputs (embeddings, identity logits), jitted
  once per run."""
  if "encode" not in run.compiled:
    model = run.model
    run.compiled["encode"] = jax.jit(lambda p, a, m: model.apply({"params": p}, a, m, method=talker.Talker.encode)[2])
  return run.compiled["encode"]


@functools.partial(jax.jit, static_argnames=("frames", "dim"))
def frame_noise(key, start, *, frames: int, dim: int):
  """[frames, dim] standard normal noise of frames start .. start + frames - 1: frame t's noise depends on (key, t)
  alone, so any window of a clip, streamed or not, starts from the same noise at the same frame."""
  return jax.vmap(lambda t: jax.random.normal(jax.random.fold_in(key, t), (dim,)))(start + jnp.arange(frames))


def diffusion_predictor(run: loading.Run, *, num_steps: int | None = None):
  """predict(batch, seed) -> motion [B, T, D] (data units) sampled in `num_steps` (default: the run's) DDIM steps
  from the noise of `seed`."""
  fn = run_sample_fn(run, num_steps=num_steps)

  def predict(batch, seed):
    z = jax.random.normal(jax.random.PRNGKey(seed), batch["motion"].shape)
    return fn(run.params, batch["audio"], batch["mask"], z)
  return predict


def static_predictor(batch, seed):
  """The neutral face (zero weights / zero offsets): the floor every model must beat."""
  del seed
  return jnp.zeros_like(batch["motion"])


def shifted_truth_predictor(shift_ms: float):
  """The ground truth itself, late by `shift_ms` (early when negative; linear interpolation, the clip's first and
  last frames held): what an audio-motion misalignment alone costs in every metric."""
  def predict(batch, seed):
    del seed
    motion, mask = np.asarray(batch["motion"]), np.asarray(batch["mask"])      # [B, T, D], [B, T]
    out = np.empty_like(motion)
    for b, length in enumerate(mask.sum(1).astype(int)):
      t = np.clip(np.arange(motion.shape[1]) - shift_ms * timebase.FPS / 1000, 0, max(length - 1, 0))
      lo = np.floor(t).astype(int)
      frac = (t - lo)[:, None]
      out[b] = (1 - frac) * motion[b, lo] + frac * motion[b, np.minimum(lo + 1, max(length - 1, 0))]
    return out
  return predict


def sample_clip(run: loading.Run, example: dict, *, num_steps: int | None = None, seed: int = 0) -> np.ndarray:
  """One dataset example's audio -> motion [T, D] (data units), T = the example's frame count."""
  frames = len(example["motion"])
  fn = run_sample_fn(run, num_steps=num_steps)
  z = jax.random.normal(jax.random.PRNGKey(seed), (1, frames, run.dataset.motion_dim))
  audio = jnp.asarray(example["audio"], jnp.float32)[None]
  return np.asarray(fn(run.params, audio, jnp.ones((1, frames)), z)[0])
