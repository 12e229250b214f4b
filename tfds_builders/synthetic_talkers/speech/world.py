"""Voice and prosody changes by WORLD analysis-synthesis (pyworld): pitch level and range, formant (vocal tract
length) scaling. Frame-synchronous, so every phone keeps its timing exactly; more speakers from one neural voice,
and emotional pitch for voices that have no pitch knob."""
from __future__ import annotations

import numpy as np

_FRAME_MS = 5.0


def transform(audio: np.ndarray, rate: int, *, f0_scale: float = 1.0, f0_range: float = 1.0,
              formant_scale: float = 1.0) -> np.ndarray:
  """audio [S] float -> [S] float32. F0 (voiced frames) becomes f0_scale * exp(mean + f0_range * (log f0 - mean)),
  mean = the utterance's mean log F0; the spectral envelope is stretched along frequency by `formant_scale` (> 1:
  a shorter vocal tract, higher formants)."""
  import pyworld  # pylint: disable=g-import-not-at-top
  if f0_scale == 1.0 and f0_range == 1.0 and formant_scale == 1.0:
    return np.asarray(audio, np.float32)
  x = np.asarray(audio, np.float64)
  f0, t = pyworld.dio(x, rate, frame_period=_FRAME_MS)
  f0 = pyworld.stonemask(x, f0, t, rate)
  sp = pyworld.cheaptrick(x, f0, t, rate)
  ap = pyworld.d4c(x, f0, t, rate)
  voiced = f0 > 0
  if voiced.any():
    log = np.log(f0[voiced])
    f0 = f0.copy()
    f0[voiced] = f0_scale * np.exp(log.mean() + f0_range * (log - log.mean()))
  if formant_scale != 1.0:
    bins = np.arange(sp.shape[1], dtype=np.float64)
    src = np.clip(bins / formant_scale, 0, sp.shape[1] - 1)
    sp = np.stack([np.interp(src, bins, row) for row in sp])
  y = pyworld.synthesize(f0, sp, ap, rate, _FRAME_MS)
  out = np.zeros(len(audio), np.float64)
  out[:min(len(y), len(out))] = y[:len(out)]
  return out.astype(np.float32)
