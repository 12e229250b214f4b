"""The one time base of dt_jax: 16 kHz audio, 30 fps motion, and the rule that converts between them.

A clip of T frames holds `samples_for(T) = round(T * SAMPLE_RATE / FPS)` samples (builders trim or pad every clip
to exactly that), and frames are counted by one rule everywhere (corpus, builders, inference, export): S samples
cover the T whole frames with samples_for(T) <= S < samples_for(T + 1), i.e. `frames_for(S) = floor((S + 1/2) *
FPS / SAMPLE_RATE)` (the half sample makes frames_for(samples_for(T)) == T although a frame is 533.3 samples).
"""
from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 16000      # Hz, every waveform the models see
FPS = 30                 # motion frames per second


def samples_for(frames: int) -> int:
  """The samples of `frames` motion frames: round(T * SAMPLE_RATE / FPS)."""
  return int(round(frames * SAMPLE_RATE / FPS))


def frames_for(samples: int) -> int:
  """The whole motion frames that `samples` cover: the T with samples_for(T) <= S < samples_for(T + 1)."""
  return int(math.floor((samples + 0.5) * FPS / SAMPLE_RATE))


def interpolate(values, at, *, times=None) -> np.ndarray:
  """Rows of `values` [T, D], taken at `times` [T] (increasing; default 0..T-1, frame indices), linearly
  interpolated at `at` [T'] with the first and last rows held beyond them -> [T', D] float64. Resamples motion
  to another rate or speed."""
  values = np.asarray(values)
  times = np.arange(len(values)) if times is None else times
  return np.stack([np.interp(at, times, values[:, d]) for d in range(values.shape[1])], axis=-1)
