"""Acoustic variety for training: room reverberation, additive noise (coloured, or other utterances), band limits
(telephone, laptop microphone), gain, and small speed changes with the motion resampled to match.

A pure function of (window, rng): the input pipeline draws the rng from (seed, element index), so a resumed run
augments exactly as an uninterrupted one. Evaluation and validation never augment.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

from dt_jax import timebase


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
  p_speed: float = 0.5
  speed: tuple[float, float] = (0.9, 1.1)        # > 1: faster speech (more source frames in one window)
  p_reverb: float = 0.3
  rt60: tuple[float, float] = (0.15, 0.7)        # seconds
  p_noise: float = 0.4
  snr_db: tuple[float, float] = (5.0, 30.0)
  p_babble: float = 0.3                          # of the noisy windows: another utterance instead of coloured noise
  p_band: float = 0.3
  gain_db: tuple[float, float] = (-12.0, 6.0)


def from_config(block) -> AugmentConfig | None:
  """The training augmentation of a config block (`cfg.data.augment`: `enabled` plus any AugmentConfig field);
  None when it is off."""
  if not block or not block.get("enabled", False):
    return None
  fields = {f.name for f in dataclasses.fields(AugmentConfig)}
  return AugmentConfig(**{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in dict(block).items()
                          if k in fields})


def _bands():
  rate = timebase.SAMPLE_RATE
  return (scipy.signal.butter(4, (300, 3400), btype="bandpass", fs=rate, output="sos"),    # telephone
          scipy.signal.butter(2, (150, 7000), btype="bandpass", fs=rate, output="sos"))    # laptop microphone


_BANDS = _bands()


def speed_factor(rng: np.random.Generator, cfg: AugmentConfig) -> float:
  return float(rng.uniform(*cfg.speed)) if rng.random() < cfg.p_speed else 1.0


def resample_window(audio: np.ndarray, motion: np.ndarray, *, frames: int) -> tuple[np.ndarray, np.ndarray]:
  """A window of audio and motion played back at another speed: audio [A'] and motion [T', D] -> exactly
  samples_for(frames) samples and `frames` frames, both by linear interpolation over the same time span."""
  n = timebase.samples_for(frames)
  a = np.interp(np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio).astype(np.float32)
  src = (np.arange(frames) + 0.5) * len(motion) / frames - 0.5
  m = timebase.interpolate(motion, src)
  return a, m.astype(np.float32)


def _room(rng, cfg, n):
  """A synthetic impulse response: direct path plus exponentially decaying noise with a random RT60."""
  rt60 = rng.uniform(*cfg.rt60)
  length = int(min(rt60, 0.8) * timebase.SAMPLE_RATE)
  t = np.arange(length) / timebase.SAMPLE_RATE
  tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
  tail[:int(0.002 * timebase.SAMPLE_RATE)] = 0.0
  ir = np.concatenate([[1.0], rng.uniform(0.2, 0.8) * tail / (np.sqrt(np.sum(tail ** 2)) + 1e-9)])
  return ir[:max(n, 1)]


def _coloured(rng, n):
  """White, pink or brown noise (1/f^beta), unit RMS."""
  beta = rng.choice((0.0, 1.0, 2.0))
  spec = np.fft.rfft(rng.standard_normal(n))
  f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
  x = np.fft.irfft(spec / f ** (beta / 2), n)
  return x / (np.sqrt(np.mean(x ** 2)) + 1e-9)


def augment_audio(audio: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, *, other=None) -> np.ndarray:
  """One window's audio [A] -> [A] float32 with reverberation, noise, band limits and gain, each on a coin flip.
  `other()` returns another utterance's audio (babble noise)."""
  x = np.asarray(audio, np.float64)
  if not np.any(x):
    return np.asarray(audio, np.float32)
  rms = np.sqrt(np.mean(x ** 2))
  if rng.random() < cfg.p_reverb:
    x = scipy.signal.fftconvolve(x, _room(rng, cfg, len(x)))[:len(x)]
    x *= rms / (np.sqrt(np.mean(x ** 2)) + 1e-9)
  if rng.random() < cfg.p_noise:
    babble = other is not None and rng.random() < cfg.p_babble
    noise = np.resize(np.asarray(other(), np.float64), len(x)) if babble else _coloured(rng, len(x))
    noise *= rms / (np.sqrt(np.mean(noise ** 2)) + 1e-9) * 10 ** (-rng.uniform(*cfg.snr_db) / 20)
    x = x + noise
  if rng.random() < cfg.p_band:
    x = scipy.signal.sosfilt(_BANDS[int(rng.integers(len(_BANDS)))], x)
  x *= 10 ** (rng.uniform(*cfg.gain_db) / 20)
  return np.clip(x, -1.0, 1.0).astype(np.float32)
