"""Tiny 3D-ETF fixtures in the real layout, for tests and for trying the builder.

RAVDESS actors 01 (4 clips) and 02 (3 clips), actor 24 (held out by default), HDTF `RD_Radio1` (3 clips) and one
HDTF identity the default config holds out by hash. Coefficients [T, 52] float32 move linearly and run below 0
and above 1 (as the real data does); audio is a 440 Hz tone at 48 kHz, int16 or float, T/30 s long.
"""
from __future__ import annotations

import os
import zlib

import numpy as np
import scipy.io.wavfile

RATE = 48000
TONE_HZ = 440.0
RAVDESS = ("01-01-05-02-01-01-01", "01-01-01-01-01-01-01", "01-01-03-01-02-02-01", "01-01-08-02-01-02-01",
           "01-01-04-01-01-01-02", "01-01-02-02-02-01-02", "01-01-06-01-02-02-02", "01-01-07-02-01-01-24")
HDTF_SEEN = ("RD_Radio1_000", "RD_Radio1_001", "RD_Radio1_002")


def held_out_hdtf_identity(percent: int = 10) -> str:
  """The first `WRA_SpeakerK` whose CRC32 puts it among the held-out HDTF identities."""
  return next(f"WRA_Speaker{k}" for k in range(1000) if zlib.crc32(f"WRA_Speaker{k}".encode()) % 100 < percent)


def frames_of(stem: str) -> int:
  return 20 + zlib.crc32(stem.encode()) % 9


def weights(stem: str) -> np.ndarray:
  """[T, 52]: column j = -0.2 + (j / 40) + 0.01 * t, so values run from below 0 to above 1."""
  t = np.arange(frames_of(stem), dtype=np.float32)[:, None]
  return (-0.2 + np.arange(52, dtype=np.float32)[None] / 40 + 0.01 * t).astype(np.float32)


def tone(frames: int, *, as_int16: bool, extra_s: float = 0.0) -> np.ndarray:
  n = int(round((frames / 30 + extra_s) * RATE))
  x = 0.5 * np.sin(2 * np.pi * TONE_HZ * np.arange(n) / RATE)
  return (x * 32767).astype(np.int16) if as_int16 else x.astype(np.float32)


def write(root: str) -> dict[str, list[str]]:
  """Writes the fixture; returns source -> stems."""
  stems = {"RAVDESS": list(RAVDESS), "HDTF": list(HDTF_SEEN) + [held_out_hdtf_identity() + "_000"]}
  for source, names in stems.items():
    os.makedirs(os.path.join(root, source, "audio"), exist_ok=True)
    os.makedirs(os.path.join(root, source, "blendshape"), exist_ok=True)
    for k, stem in enumerate(names):
      np.save(os.path.join(root, source, "blendshape", stem + ".npy"), weights(stem))
      extra = 0.01 if k == 1 else 0.0       # a third of a frame more audio: fitted, counted, not an error
      scipy.io.wavfile.write(os.path.join(root, source, "audio", stem + ".wav"), RATE,
                             tone(frames_of(stem), as_int16=k % 2 == 0, extra_s=extra))
  return stems
