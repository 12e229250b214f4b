"""Renditions of a training clip: the clean clip (rendition 0) and seeded augmented copies of the whole clip.

A frozen pretrained encoder's features are computed once per rendition and cached (feature_store.py), so the
acoustic variety of augment.py reaches a model that never sees audio while it trains. Rendition r > 0 of clip i
is a pure function of (seed, i, r): a speed change of the whole clip (motion resampled to match, so the clip has
round(T / factor) frames), then reverberation, noise (coloured, or another clip's speech), band limits and gain.
The motion of a rendition needs only the speed factor, so reading motion never pays for the audio effects.
"""
from __future__ import annotations

import numpy as np

from dt_jax import timebase
from dt_jax.data import augment as augment_lib


def _rng(seed: int, clip: int, r: int) -> np.random.Generator:
  return np.random.default_rng([seed, 7, clip, r])


def frames(num_frames: int, factor: float) -> int:
  """Frames of a clip of `num_frames` played `factor` times faster."""
  return max(1, int(round(num_frames / factor)))


def speed(*, seed: int, clip: int, r: int, cfg: augment_lib.AugmentConfig | None) -> float:
  """Rendition r's speed factor (1 for the clean rendition, or without augmentation)."""
  if r == 0 or cfg is None:
    return 1.0
  return augment_lib.speed_factor(_rng(seed, clip, r), cfg)


def motion(ex: dict, *, seed: int, clip: int, r: int, cfg: augment_lib.AugmentConfig | None) -> np.ndarray:
  """Rendition r's motion [T_r, D]: the clip's motion resampled to its speed."""
  m = np.asarray(ex["motion"], np.float32)
  factor = speed(seed=seed, clip=clip, r=r, cfg=cfg)
  if factor == 1.0:
    return m
  t = frames(len(m), factor)
  src = (np.arange(t) + 0.5) * len(m) / t - 0.5
  return timebase.interpolate(m, src).astype(np.float32)


def audio(ex: dict, *, seed: int, clip: int, r: int, cfg: augment_lib.AugmentConfig | None, source) -> np.ndarray:
  """Rendition r's audio [samples_for(T_r)] (`source[j]['audio']` gives other clips' speech for babble noise)."""
  a = np.asarray(ex["audio"], np.float32)
  if r == 0 or cfg is None:
    return a
  rng = _rng(seed, clip, r)
  factor = augment_lib.speed_factor(rng, cfg)                 # the same first draw as speed()
  if factor != 1.0:
    n = timebase.samples_for(frames(timebase.frames_for(len(a)), factor))
    a = np.interp(np.linspace(0, len(a) - 1, n), np.arange(len(a)), a).astype(np.float32)
  other = lambda: source[int(rng.integers(len(source)))]["audio"]
  return augment_lib.augment_audio(a, rng, cfg, other=other)
