"""Articulation metrics from a clip's stored phones and the rig: how far the lips open at vowels, how they close
at p/b/m and rest in pauses, and how the opening follows the loudness of the speech.

The lip opening is the distance between the rig's inner-lip midpoints (`Rig.lip_pair`) minus the neutral face's.
Per clip: its value at the midpoint frame of every vowel and of every p/b/m, at every frame inside a pause, and
the Pearson correlation of the opening with the log loudness envelope. Over a split: the medians, the
articulation contrast (median at vowels minus median at p/b/m) and everything as a ratio to the ground truth's on
the same clips (the truth scores 1, a static face 0).
"""
from __future__ import annotations

import numpy as np

from dt_jax import timebase

PAUSE, VOWEL, BILABIAL = 0, 1, 2                  # phone classes (the corpus's phone_class)


def lip_opening(lips: np.ndarray, neutral: np.ndarray) -> np.ndarray:
  """[T] opening (metres) from the lip-pair vertices [T, 2, 3] and the neutral face's pair [2, 3]."""
  gap = np.linalg.norm(lips[:, 0] - lips[:, 1], axis=-1)
  return gap - np.linalg.norm(neutral[0] - neutral[1])


def loudness(audio: np.ndarray, frames: int) -> np.ndarray:
  """[T] log RMS (dB) of 16 kHz audio over 40 ms windows centred on each 30 fps frame, floored at -80 dB."""
  hop, win = timebase.SAMPLE_RATE / timebase.FPS, 640
  centres = ((np.arange(frames) + 0.5) * hop).astype(int)
  padded = np.pad(np.asarray(audio, np.float64), (win // 2, win // 2))
  x = padded[centres[:, None] + np.arange(win)[None]]
  return 10 * np.log10(np.maximum(np.mean(x ** 2, axis=1), 1e-8))


def phone_frames(start, end, cls, frames: int) -> dict[str, np.ndarray]:
  """Frame indices: 'vowel' and 'bilabial' at each such phone's midpoint, 'pause' every frame whose centre lies in
  a pause."""
  start, end, cls = np.asarray(start), np.asarray(end), np.asarray(cls)
  mid = np.clip(np.floor((start + end) / 2 * timebase.FPS).astype(int), 0, frames - 1)
  centres = (np.arange(frames) + 0.5) / timebase.FPS
  in_pause = np.zeros(frames, bool)
  for a, b in zip(start[cls == PAUSE], end[cls == PAUSE]):
    in_pause |= (centres >= a) & (centres < b)
  return {"vowel": mid[cls == VOWEL], "bilabial": mid[cls == BILABIAL], "pause": np.flatnonzero(in_pause)}


def correlation(a: np.ndarray, b: np.ndarray) -> float:
  """Pearson r; 0 when either is constant (a still face follows nothing)."""
  a, b = a - a.mean(), b - b.mean()
  den = np.sqrt(np.sum(a ** 2) * np.sum(b ** 2))
  return float(np.sum(a * b) / den) if den > 1e-20 else 0.0


class Accumulator:
  """Collects openings at the phone frames and per-clip loudness correlations, for a model and the truth."""

  def __init__(self):
    self._at = {(who, where): [] for who in ("model", "truth") for where in ("vowel", "bilabial", "pause")}
    self._corr = {"model": [], "truth": []}

  def add(self, *, model: np.ndarray, truth: np.ndarray, audio: np.ndarray, phones) -> None:
    """One clip: openings [T] of the model and the truth, its audio and phones (start, end, class)."""
    frames = len(truth)
    where = phone_frames(*phones, frames)
    env = loudness(audio, frames)
    for who, opening in (("model", model), ("truth", truth)):
      for name, idx in where.items():
        self._at[(who, name)].append(opening[idx])
      self._corr[who].append(correlation(opening, env))

  def result(self) -> dict:
    """Medians (mm) at vowels, p/b/m and pauses, the contrast, the loudness correlation, and their ratios to the
    truth's."""
    med = {k: float(np.median(np.concatenate(v))) * 1e3 if v and np.concatenate(v).size else float("nan")
           for k, v in self._at.items()}
    out = {}
    for who in ("model", "truth"):
      out[f"{who}_vowel_mm"], out[f"{who}_bilabial_mm"] = med[(who, "vowel")], med[(who, "bilabial")]
      out[f"{who}_pause_mm"] = med[(who, "pause")]
      out[f"{who}_contrast_mm"] = med[(who, "vowel")] - med[(who, "bilabial")]
      out[f"{who}_loudness_corr"] = float(np.mean(self._corr[who])) if self._corr[who] else float("nan")
    out["contrast_ratio"] = out["model_contrast_mm"] / out["truth_contrast_mm"]
    out["loudness_ratio"] = out["model_loudness_corr"] / out["truth_loudness_corr"]
    return out
