"""Phones + audio + speaker + emotion + a nonverbal draw -> 52 ARKit weights at 30 fps.

Two layers. The speech-driven layer is a deterministic function of the phones, the audio, the speaker's style and
the emotion: visemes with Cohen-Massaro-style dominance coarticulation at 120 Hz (separate lip and jaw dominance),
speaker gains and asymmetry, the jaw modulated by loudness, the emotion's static expression and articulation gain.
The nonverbal layer (nonverbal.py) is a random draw: blinks, brows, gaze, squints, and the utterance's articulation
effort and lead of the face on the audio, which the speech layer takes. Last, over both: every frame overlapping a
p/b/m closes the lips.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.ndimage

from dt_jax import timebase
from dt_jax.face import arkit
from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE
from tfds_builders.synthetic_talkers import nonverbal
from tfds_builders.synthetic_talkers import visemes as vis
from tfds_builders.synthetic_talkers.speech import phones as phones_lib

_SUB = 4                     # coarticulation runs at FPS * _SUB = 120 Hz
_I = arkit.INDEX
_ROUND = [_I[n] for n in ("mouthPucker", "mouthFunnel")]
_SPREAD = [_I[n] for n in ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")]
_OPENING = [_I[n] for n in ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                            "mouthUpperUpRight", "tongueOut")]
_LEFT = [i for i, n in enumerate(arkit.NAMES) if n.endswith("Left")]
_RIGHT = [i for i, n in enumerate(arkit.NAMES) if n.endswith("Right")]
_LIDS = [_I["eyeBlinkLeft"], _I["eyeBlinkRight"]]


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
  tau_anticipation: float = 0.06
  tau_carryover: float = 0.05


@dataclasses.dataclass(frozen=True)
class Emotion:
  name: str
  expression: tuple[tuple[str, float], ...]   # static ARKit weights, ramped in
  articulation: float                          # gain on speech articulation
  mood: nonverbal.Mood = nonverbal.Mood()


def segments(phones, lead_s: float):
  """[(start, end, viseme, phone)] with diphthongs split evenly, shifted earlier by the face's lead."""
  out = []
  for ph in phones:
    step = (ph.end - ph.start) / len(ph.visemes)
    for k, c in enumerate(ph.visemes):
      out.append((ph.start + k * step - lead_s, ph.start + (k + 1) * step - lead_s, c, ph))
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


def accents(audio: np.ndarray, frames: int) -> list[float]:
  """Times (s) of pitch accents: peaks of the z-scored log F0 above 1, at least 0.3 s apart."""
  f0, voiced = f0_track(audio, frames)
  if voiced.sum() < 3:
    return []
  lf = np.log(f0)
  z = np.where(voiced, (lf - lf[voiced].mean()) / (lf[voiced].std() + 1e-6), -9.0)
  z = scipy.ndimage.gaussian_filter1d(z, 1.0)
  peaks = [t for t in range(1, frames - 1) if z[t] > 1.0 and z[t] >= z[t - 1] and z[t] >= z[t + 1]]
  out = []
  for t in peaks:
    if not out or (t + 0.5) / FPS - out[-1] >= 0.3:
      out.append((t + 0.5) / FPS)
  return out


def speech_layer(*, phones, audio: np.ndarray, style: Style, emotion: Emotion, effort: float = 1.0,
                 lead_s: float) -> np.ndarray:
  """[T, 52] the speech-driven weights (unclipped): coarticulated visemes, speaker gains, loudness on the jaw,
  the emotion's articulation gain and static expression, the speaker's smile bias."""
  frames = timebase.frames_for(len(audio))
  n = frames * _SUB
  t = (np.arange(n) + 0.5) / (FPS * _SUB)                           # [n] sample times
  segs = segments(phones, lead_s) or [(0.0, frames / FPS, "sil", None)]
  cls = np.array([vis.CLASSES.index(c) for _, _, c, _ in segs])
  s = np.array([a for a, _, _, _ in segs])[:, None]
  e = np.array([b for _, b, _, _ in segs])[:, None]
  ps, pe = s + 0.2 * (e - s), e - 0.2 * (e - s)                     # plateau over the middle 60%
  shape = np.exp(-np.maximum(ps - t, 0) / style.tau_anticipation - np.maximum(t - pe, 0) / style.tau_carryover)
  targets = vis.TARGETS[cls]                                          # [K, 52]

  def mix(dominance):
    d = np.array([dominance[vis.CLASSES[c]] for c in cls])[:, None] * shape + 1e-6
    return (d.T @ targets) / d.sum(0)[:, None]                       # [n, 52]
  w = mix(vis.LIP_DOMINANCE)
  w[:, vis.JAW_CHANNELS] = mix(vis.JAW_DOMINANCE)[:, vis.JAW_CHANNELS]
  hop = SAMPLE_RATE // (FPS * _SUB)                                   # loudness envelope at 120 Hz
  a = np.pad(audio, (0, max(0, n * hop - len(audio))))[: n * hop].reshape(n, hop)
  env = scipy.ndimage.gaussian_filter1d(np.sqrt(np.mean(a ** 2, axis=1)), 3)
  env = env / (env.max() + 1e-9)
  gain = np.full(arkit.NUM, style.lip_gain)
  gain[_ROUND] *= style.round_gain
  gain[_SPREAD] *= style.spread_gain
  gain[_I["jawOpen"]] = style.jaw_gain
  w *= gain * emotion.articulation * effort
  w[:, _I["jawOpen"]] *= 0.7 + 0.6 * env
  w = w.reshape(frames, _SUB, arkit.NUM).mean(1)                   # [T, 52] at 30 fps
  ramp = np.clip((np.arange(frames) + 0.5) / FPS / 0.35, 0, 1)     # the expression ramps in over 0.35 s
  static = np.zeros(arkit.NUM)
  for name, val in emotion.expression:
    static[_I[name]] += val
  static[[_I["mouthSmileLeft"], _I["mouthSmileRight"]]] += style.smile_bias
  return w + (ramp * ramp * (3 - 2 * ramp))[:, None] * static[None]


def close_bilabials(w: np.ndarray, phones, lead_s: float) -> np.ndarray:
  """Every frame overlapping a p/b/m (shifted by the lead) closes the lips: mouthClose = jawOpen, no opening."""
  w = w.copy()
  frames = len(w)
  for start, end, _, ph in segments(phones, lead_s):
    if ph is not None and ph.cls == phones_lib.BILABIAL:
      f0_, f1_ = int(np.floor(start * FPS)), int(np.ceil(end * FPS))
      sl = slice(max(f0_, 0), min(max(f1_, f0_ + 1), frames))
      w[sl, _I["mouthClose"]] = w[sl, _I["jawOpen"]]
      w[sl, _OPENING] = 0.0
  return w


def pauses(phones) -> list[tuple[float, float]]:
  return [(ph.start, ph.end) for ph in phones if ph.cls == phones_lib.PAUSE]


def generate(*, phones, audio: np.ndarray, style: Style, emotion: Emotion, habits: nonverbal.Habits,
             rng: np.random.Generator, accent_times=None) -> np.ndarray:
  """[T, 52] float32: one draw of the whole face for `audio` (16 kHz) and its phones; `rng` drives the nonverbal
  layer only (the speech layer given the draw's effort and lead is deterministic)."""
  frames = timebase.frames_for(len(audio))
  if accent_times is None:
    accent_times = accents(audio, frames)
  d = nonverbal.draw(frames=frames, pauses=pauses(phones), accents=accent_times, habits=habits, mood=emotion.mood,
                     rng=rng)
  lead = style.lead_s + d.lead
  w = speech_layer(phones=phones, audio=audio, style=style, emotion=emotion, effort=d.effort, lead_s=lead)
  lids = np.maximum(w[:, _LIDS], d.layer[:, _LIDS])
  w = w + d.layer
  w[:, _LIDS] = lids
  w[:, _LEFT] *= 1 + style.asymmetry
  w[:, _RIGHT] *= 1 - style.asymmetry
  return close_bilabials(np.clip(w, 0.0, 1.0), phones, lead).astype(np.float32)
