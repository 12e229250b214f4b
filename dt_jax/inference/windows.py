"""Long clips in overlapping windows: which frames each window covers, and a seamless crossfade of their outputs.

Every window has the same length (one compiled sampler); the last one is aligned to the clip's end. In an overlap
each window's weight ramps linearly to ~0 towards its edge and the outputs are averaged with those weights, so the
motion changes continuously from one window to the next (no jump at a window boundary).
"""
from __future__ import annotations

import numpy as np


def spans(num_frames: int, *, window: int, overlap: int) -> list[tuple[int, int]]:
  """[(start, end)] frame ranges covering [0, num_frames): one span when the clip fits in a window."""
  if window < 1 or not 0 <= overlap < window:
    raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}")
  if num_frames <= window:
    return [(0, num_frames)]
  hop = window - overlap
  starts = list(range(0, num_frames - window, hop)) + [num_frames - window]
  return [(s, s + window) for s in starts]


def weights(span_list: list[tuple[int, int]]) -> list[np.ndarray]:
  """Per span [end - start] blending weights: 1 inside, linear ramps over the overlaps with its neighbours."""
  out = []
  for k, (start, end) in enumerate(span_list):
    w = np.ones(end - start, np.float32)
    if k > 0 and span_list[k - 1][1] > start:                        # overlap with the previous window
      n = span_list[k - 1][1] - start
      w[:n] = np.minimum(w[:n], (np.arange(n) + 1.0) / (n + 1.0))
    if k + 1 < len(span_list) and end > span_list[k + 1][0]:         # overlap with the next window
      n = end - span_list[k + 1][0]
      w[-n:] = np.minimum(w[-n:], (n - np.arange(n)) / (n + 1.0))
    out.append(w)
  return out


def crossfade(pieces: list[np.ndarray], span_list: list[tuple[int, int]], num_frames: int) -> np.ndarray:
  """Window outputs [end - start, ...] -> the whole clip [num_frames, ...] (weighted average in overlaps)."""
  acc = np.zeros((num_frames,) + pieces[0].shape[1:], np.float64)
  total = np.zeros(num_frames, np.float64)
  for piece, (start, end), w in zip(pieces, span_list, weights(span_list)):
    acc[start:end] += piece * w.reshape((-1,) + (1,) * (piece.ndim - 1))
    total[start:end] += w
  if np.any(total <= 0):
    raise ValueError("the windows do not cover every frame")
  return (acc / total.reshape((-1,) + (1,) * (acc.ndim - 1))).astype(np.float32)
