"""Motion normalisation: the diffusion runs on (motion - mean) / scale, so the data has unit variance whatever the
dataset's units (blendshape weights, metres of vertex offset). Without it the noise schedule's SNR is off by the
data's variance and the high-noise levels, where the audio matters most, get almost no weight in the loss.

mean [D] is per channel; scale is one number (the RMS of the centred data), so channels keep their relative size
(the lips, which move most, keep most of the weight). Computed from the training split, stored beside the
checkpoints as `motion_stats.npz`, and applied by the input pipeline (training) and the predictors (sampling).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

FILENAME = "motion_stats.npz"


@dataclasses.dataclass(frozen=True)
class MotionStats:
  mean: np.ndarray      # [D]
  scale: float


def compute(data_source, *, max_examples: int = 400) -> MotionStats:
  """Stats of up to `max_examples` evenly spaced training examples (all their frames)."""
  n = len(data_source)
  if n == 0:
    raise ValueError("cannot compute motion statistics of an empty split")
  idx = np.unique(np.linspace(0, n - 1, min(n, max_examples)).round().astype(int))
  motion = np.concatenate([np.asarray(data_source[int(i)]["motion"], np.float64) for i in idx])   # [N, D]
  mean = motion.mean(0)
  scale = float(np.sqrt(np.mean(np.square(motion - mean))))
  if not np.isfinite(scale) or scale <= 0:
    raise ValueError(f"motion statistics are degenerate (scale {scale}): is every training motion constant?")
  return MotionStats(mean=mean.astype(np.float32), scale=scale)


def identity(dim: int) -> MotionStats:
  return MotionStats(mean=np.zeros(dim, np.float32), scale=1.0)


def save(stats: MotionStats, workdir: str) -> None:
  np.savez(os.path.join(workdir, FILENAME), mean=stats.mean, scale=np.float32(stats.scale))


def load(workdir: str) -> MotionStats:
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} is missing: the run's motion statistics are needed to sample from it")
  with np.load(path) as f:
    return MotionStats(mean=f["mean"].astype(np.float32), scale=float(f["scale"]))


def normalize(motion, stats: MotionStats):
  """[..., D] data units -> model units."""
  return (motion - stats.mean) / stats.scale


def denormalize(x, stats: MotionStats):
  """[..., D] model units -> data units."""
  return x * stats.scale + stats.mean
