"""The function every exporter converts: audio [B, S] and noise [B, T, D] -> motion [B, T, D], parameters baked in.

The noise is an input (a run is reproducible across runtimes given the same noise) and T comes from its shape:
T = floor((S + 0.5) * 30 / 16000) frames for S samples of 16 kHz audio (dt_jax.timebase.frames_for). B, S and T
are symbolic in every export; S must be at least the audio encoder's receptive field. The sampler's steps are
written out (no loop), so converters without loop support see a plain graph.

The graphs hold no assertions (ONNX has none): one NaN in the audio or the noise makes every frame NaN, and noise
longer than the audio gives frames past its end. Every format's `load` here checks the contract first
(check_inputs); a runtime called directly must do the same.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from dt_jax import timebase
from dt_jax.runs import loading
from dt_jax.runs import sampling


class InputError(ValueError):
  """Inputs outside the exported sampler's contract (shapes, lengths, non-finite values)."""


def check_inputs(audio, noise, *, min_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(audio, noise) as float32 numpy when they keep the contract: audio [B, S] with S >= min_samples, noise
  [B, T, D] with the same B and T = frames_for(S), both finite; else InputError, one line saying what is wrong."""
  audio, noise = np.asarray(audio, np.float32), np.asarray(noise, np.float32)
  if audio.ndim != 2 or noise.ndim != 3:
    raise InputError(f"expected audio [B, S] and noise [B, T, D]; got {audio.shape} and {noise.shape}")
  (b, s), t = audio.shape, noise.shape[1]
  if noise.shape[0] != b:
    raise InputError(f"audio has batch {b} but noise has batch {noise.shape[0]}")
  if s < max(min_samples, 1):
    raise InputError(f"audio has {s} samples; the encoder needs at least {max(min_samples, 1)}")
  if t != timebase.frames_for(s):
    raise InputError(f"noise has {t} frames but {s} audio samples make {timebase.frames_for(s)} "
                     f"(T = floor((S + 0.5) * {timebase.FPS} / {timebase.SAMPLE_RATE}))")
  for name, x in (("audio", audio), ("noise", noise)):
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
      raise InputError(f"{name} holds {bad} NaN or Inf values: every frame would be NaN")
  return audio, noise


@dataclasses.dataclass(frozen=True)
class Sampler:
  fn: Callable            # (audio [B, S] float32, noise [B, T, D] float32) -> motion [B, T, D] float32, data units
  motion_dim: int         # D
  num_steps: int
  min_samples: int        # the audio encoder's receptive field: shorter audio cannot be encoded
  param_bytes: int        # float32 parameters baked into the export

  def symbolic_inputs(self) -> tuple[jax.ShapeDtypeStruct, jax.ShapeDtypeStruct]:
    """Shape-polymorphic input specs B, S, T (jax.export symbols, with the constraint S >= min_samples)."""
    b, s, t = jax.export.symbolic_shape("B, S, T", constraints=[f"S >= {self.min_samples}"])
    return (jax.ShapeDtypeStruct((b, s), jnp.float32), jax.ShapeDtypeStruct((b, t, self.motion_dim), jnp.float32))

  def example_inputs(self, *, frames: int, batch: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic test inputs for `frames` frames: noisy, speech-loud audio and standard normal noise."""
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal((batch, timebase.samples_for(frames)))).astype(np.float32)
    noise = rng.standard_normal((batch, frames, self.motion_dim)).astype(np.float32)
    return audio, noise

  def describe(self) -> dict:
    return {"inputs": {"audio": "float32 [B, S]: 16 kHz mono in [-1, 1], S >= " + str(self.min_samples),
                       "noise": f"float32 [B, T, {self.motion_dim}]: N(0, 1), T = floor((S + 0.5) * 30 / 16000)"},
            "outputs": {"motion": f"float32 [B, T, {self.motion_dim}] in the dataset's units"},
            "contract": "the graph does not check its inputs: same B, T as above, all values finite (one NaN makes "
                        "every frame NaN); dt_jax.export.sampler.check_inputs checks them",
            "num_steps": self.num_steps, "sample_rate": timebase.SAMPLE_RATE, "fps": timebase.FPS}


def from_run(run: loading.Run, *, num_steps: int | None = None) -> Sampler:
  """The exportable sampler of a loaded run (a student round, or a teacher) with `num_steps` DDIM steps."""
  steps = int(num_steps or run.num_steps)
  fn = sampling.sample_fn(run.model, num_steps=steps, stats=run.stats, unroll=True, sampler=run.sampler,
                          guidance=run.guidance, data_range=run.data_range)
  params = jax.tree.map(np.asarray, run.params)

  def sample(audio, noise):
    return fn(params, audio, jnp.ones_like(noise[..., 0]), noise)

  return Sampler(fn=sample, motion_dim=run.dataset.motion_dim, num_steps=steps,
                 min_samples=run.model.min_samples,
                 param_bytes=sum(int(x.size) * 4 for x in jax.tree.leaves(params)))
