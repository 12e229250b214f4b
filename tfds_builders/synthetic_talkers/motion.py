"""Phones + audio + speaker style + emotion -> 52 ARKit weights at 30 fps.

Steps (deterministic): phones -> visemes; Cohen-Massaro-style dominance coarticulation at 120 Hz with separate
lip and jaw dominance; speaker gains and asymmetry; jaw amplitude modulated by loudness; an emotion layer (static
expression ramped in, articulation gain); brows following pitch accents; blinks at pauses and every N-th vowel;
and last, the bilabial closure constraint: any frame overlapping a p/b/m closes the lips.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.ndimage

from dt_jax import timebase
from dt_jax.face import arkit
from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE
from tfds_builders.synthetic_talkers import visemes as vis

_SUB = 4                     # coarticulation runs at FPS * _SUB = 120 Hz
_I = arkit.INDEX
_ROUND = [_I[n] for n in ("mouthPucker", "mouthFunnel")]
_SPREAD = [_I[n] for n in ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")]
_OPENING = [_I[n] for n in ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                            "mouthUpperUpRight", "tongueOut")]
_LEFT = [i for i, n in enumerate(arkit.NAMES) if n.endswith("Left")]
_RIGHT = [i for i, n in enumerate(arkit.NAMES) if n.endswith("Right")]


@dataclasses.dataclass(frozen=True)
class Style:
  """A speaker's speaking style."""
  jaw_gain: float = 1.0
  lip_gain: float = 1.0
  round_gain: float = 1.0
  spread_gain: float = 1.0
  asymmetry: float = 0.0       # left channels x (1 + a), right x (1 - a)
  smile_bias: float = 0.0
  lead_s: float = 0.01         # the face leads the audio by this much
  brow_coupling: float = 1.0
  blink_every: int = 7         # a blink every N-th vowel (plus one at each long pause)
  tau_anticipation: float = 0.06
  tau_carryover: float = 0.05


@dataclasses.dataclass(frozen=True)
class Emotion:
  name: str
  expression: tuple[tuple[str, float], ...]   # static ARKit weights, ramped in
  articulation: float                          # gain on speech articulation
  brow_gain: float


def segments(phones, lead_s: float):
  """[(start, end, viseme, phone)] with diphthongs split evenly, shifted earlier by the face's lead."""
  out = []
  for start, end, ph in phones:
    classes = vis.visemes(ph)
    step = (end - start) / len(classes)
    for k, c in enumerate(classes):
      out.append((start + k * step - lead_s, start + (k + 1) * step - lead_s, c, ph))
  return out


def f0_track(audio: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
  """Per-frame F0 in Hz and a voiced mask [T], by normalised autocorrelation over 40 ms windows."""
  win, hop = 640, SAMPLE_RATE / FPS
  pad = np.pad(audio, (win, win))
  starts = (np.arange(frames) * hop + hop / 2 + win / 2).astype(int)
  x = pad[starts[:, None] + np.arange(win)[None]]                 # [T, win]
  x = x - x.mean(1, keepdims=True)
  spec = np.fft.rfft(x * np.hanning(win), n=2 * win)
  ac = np.fft.irfft(np.abs(spec) ** 2)[:, :win]
  ac = ac / (ac[:, :1] + 1e-9)
  lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
  lag = lo + np.argmax(ac[:, lo:hi], axis=1)
  peak = ac[np.arange(frames), lag]
  rms = np.sqrt(np.mean(x ** 2, axis=1))
  voiced = (peak > 0.45) & (rms > 0.02 * (rms.max() + 1e-9))
  return SAMPLE_RATE / lag, voiced


def _blink(t: np.ndarray, at: float) -> np.ndarray:
  close, hold, open_ = 0.07, 0.03, 0.15
  x = t - at
  up = np.clip(x / close, 0, 1)
  down = np.clip(1 - (x - close - hold) / open_, 0, 1)
  return np.where(x < close, up, down) * (x >= 0)


def generate(*, phones, audio: np.ndarray, style: Style, emotion: Emotion) -> np.ndarray:
  """[T, 52] float32 weights at 30 fps for `audio` (16 kHz) with its phone timings [(start_s, end_s, name)]."""
  frames = timebase.frames_for(len(audio))
  n = frames * _SUB
  t = (np.arange(n) + 0.5) / (FPS * _SUB)                           # [n] sample times
  segs = segments(phones, style.lead_s)
  if not segs:
    segs = [(0.0, frames / FPS, "sil", "_")]
  cls = np.array([vis.CLASSES.index(c) for _, _, c, _ in segs])
  s = np.array([a for a, _, _, _ in segs])[:, None]
  e = np.array([b for _, b, _, _ in segs])[:, None]
  ps, pe = s + 0.2 * (e - s), e - 0.2 * (e - s)                     # plateau over the middle 60%
  before, after = np.maximum(ps - t, 0), np.maximum(t - pe, 0)       # [K, n]
  shape = np.exp(-before / style.tau_anticipation - after / style.tau_carryover)
  targets = vis.TARGETS[cls]                                          # [K, 52]
  def mix(dominance):
    d = np.array([dominance[vis.CLASSES[c]] for c in cls])[:, None] * shape + 1e-6
    return (d.T @ targets) / d.sum(0)[:, None]                       # [n, 52]
  w = mix(vis.LIP_DOMINANCE)
  w[:, vis.JAW_CHANNELS] = mix(vis.JAW_DOMINANCE)[:, vis.JAW_CHANNELS]

  # Loudness envelope at 120 Hz modulates the jaw.
  hop = SAMPLE_RATE // (FPS * _SUB)
  a = np.pad(audio, (0, max(0, n * hop - len(audio))))[: n * hop].reshape(n, hop)
  env = scipy.ndimage.gaussian_filter1d(np.sqrt(np.mean(a ** 2, axis=1)), 3)
  env = env / (env.max() + 1e-9)
  gain = np.full(arkit.NUM, style.lip_gain)
  gain[_ROUND] *= style.round_gain
  gain[_SPREAD] *= style.spread_gain
  gain[_I["jawOpen"]] = style.jaw_gain
  w *= gain * emotion.articulation
  w[:, _I["jawOpen"]] *= 0.7 + 0.6 * env
  w = w.reshape(frames, _SUB, arkit.NUM).mean(1)                   # [T, 52] at 30 fps
  tf = (np.arange(frames) + 0.5) / FPS

  # Emotion: static expression ramped in over 0.35 s, plus the speaker's smile bias.
  ramp = np.clip(tf / 0.35, 0, 1)
  ramp = ramp * ramp * (3 - 2 * ramp)
  static = np.zeros(arkit.NUM)
  for name, val in emotion.expression:
    static[_I[name]] += val
  static[[_I["mouthSmileLeft"], _I["mouthSmileRight"]]] += style.smile_bias
  w += ramp[:, None] * static[None]

  # Brows follow pitch accents.
  f0, voiced = f0_track(audio, frames)
  if voiced.sum() >= 3:
    lf = np.log(f0)
    z = (lf - lf[voiced].mean()) / (lf[voiced].std() + 1e-6)
    accent = np.where(voiced, np.clip(z - 0.5, 0, 2), 0.0)
    accent = scipy.ndimage.gaussian_filter1d(accent, 0.12 * FPS / 2)
    lift = 0.35 * style.brow_coupling * emotion.brow_gain * accent
    w[:, _I["browInnerUp"]] += lift
    w[:, _I["browOuterUpLeft"]] += 0.6 * lift
    w[:, _I["browOuterUpRight"]] += 0.6 * lift

  # Blinks at long pauses and every N-th vowel.
  blinks, vowels = [], 0
  for start, end, ph in phones:
    if ph.startswith("_") and end - start >= 0.15:
      blinks.append(start + 0.03)
    elif vis.visemes(ph)[0] in vis.VOWEL_CLASSES:
      vowels += 1
      if vowels % style.blink_every == 0:
        blinks.append(start)
  if blinks:
    curve = np.max([_blink(tf, b) for b in blinks], axis=0)
    w[:, _I["eyeBlinkLeft"]] = np.maximum(w[:, _I["eyeBlinkLeft"]], curve)
    w[:, _I["eyeBlinkRight"]] = np.maximum(w[:, _I["eyeBlinkRight"]], curve)

  w[:, _LEFT] *= 1 + style.asymmetry
  w[:, _RIGHT] *= 1 - style.asymmetry
  w = np.clip(w, 0.0, 1.0)

  # Bilabial closure, applied last: every frame overlapping a p/b/m closes the lips.
  for start, end, _, ph in segs:
    if ph in vis.BILABIAL:
      f0_, f1_ = int(np.floor(start * FPS)), int(np.ceil(end * FPS))
      sl = slice(max(f0_, 0), min(max(f1_, f0_ + 1), frames))
      w[sl, _I["mouthClose"]] = w[sl, _I["jawOpen"]]
      w[sl, _OPENING] = 0.0
  return w.astype(np.float32)
