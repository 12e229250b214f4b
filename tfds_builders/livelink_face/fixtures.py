"""Live Link Face takes in the app's on-disk layout, for tests and for trying the builder: per take a folder
`<date>_<slate>_<n>/` with `<slate>_<n>_iPhone.csv` (the app's header, 60 fps timecodes), `<slate>_<n>_iPhone.mov`
(a small video with the take's audio, made with ffmpeg) and `take.json`.

The audio is a 180 Hz buzz whose loudness follows jawOpen, and it starts `LEAD` seconds before the CSV's first row
(the video starts recording before the face data), so a builder that aligns by timecode finds the loudness and
the jaw in step.
"""
from __future__ import annotations

import os

import numpy as np

from dt_jax.face import arkit
from tfds_builders.livelink_face import capture

CSV_FPS, LEAD, START = capture.CSV_FPS, capture.LEAD, capture.START


def jaw(times: np.ndarray, seed: int) -> np.ndarray:
  """A syllable-like jawOpen curve in [0, 0.8] at `times` (seconds)."""
  rate = 3.0 + (seed % 3) * 0.5
  return 0.4 * (1 - np.cos(2 * np.pi * rate * times + seed)) * (times > 0.1)


def take_motion(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """([T, 52] weights, [T, 9] rotations) at 60 fps."""
  t = np.arange(int(seconds * CSV_FPS)) / CSV_FPS
  rng = np.random.default_rng(seed)
  w = np.zeros((len(t), arkit.NUM), np.float32)
  w[:, arkit.INDEX["jawOpen"]] = jaw(t, seed)
  w[:, arkit.INDEX["mouthClose"]] = 0.1 * jaw(t, seed)
  w[:, arkit.INDEX["jawLeft"]] = 0.3                       # the pair the CSV and the enum order differently
  w[:, arkit.INDEX["eyeBlinkLeft"]] = w[:, arkit.INDEX["eyeBlinkRight"]] = rng.uniform(0, 0.1, len(t))
  rot = np.zeros((len(t), 9), np.float32)
  rot[:, 0] = 0.1 * np.sin(2 * np.pi * 0.5 * t)            # head yaw
  return w, rot


def take_audio(seconds: float, seed: int, rate: int = capture.AUDIO_RATE) -> np.ndarray:
  """LEAD s of quiet, then a buzz whose loudness follows jawOpen, as long as the motion."""
  t = np.arange(int((seconds + LEAD) * rate)) / rate - LEAD
  envelope = np.where(t >= 0, jaw(np.maximum(t, 0), seed), 0.0)
  return (0.02 + envelope) * np.sign(np.sin(2 * np.pi * 180 * t)) * 0.5


def write_take(folder: str, *, slate: str = "Demo", number: int = 1, seconds: float = 2.0, seed: int = 0,
               mov: bool = True, meta: dict | None = None) -> str:
  """One take folder as the app writes it; returns its path. mov=False writes a .wav instead of the .mov."""
  w, rot = take_motion(seconds, seed)
  return capture.write_take(folder, weights=w, rotations=rot, audio=take_audio(seconds, seed), slate=slate,
                            number=number, mov=mov, meta=meta, start=START)


def write_takes(root: str, performers: dict[str, int], *, seconds: float = 2.0, mov: bool = True) -> str:
  """`performers[name]` takes for each performer under root/<name>/; returns root."""
  for p, (name, count) in enumerate(sorted(performers.items())):
    for n in range(1, count + 1):
      write_take(os.path.join(root, name, f"20261206_Demo_{n}"), number=n, seconds=seconds, seed=10 * p + n, mov=mov)
  return root
