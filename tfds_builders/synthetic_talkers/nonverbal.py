"""The nonverbal layer of the synthetic faces: what a face does that the audio does not decide.

Drawn from its own seeded random process, so one utterance has many true motions (the corpus stores K of them for
every test clip): blinks (a renewal process with a refractory time, its rate set by the speaker and the emotion,
some at pauses), brow raises (some on pitch accents, some spontaneous) and frowns, gaze shifts between fixations
(`eyeLook*`, the lids following the gaze down), squints, and per utterance the articulation effort and the face's
lead on the audio. The speech-driven layer (motion.py) takes the effort and lead; bilabial closure is applied after
both layers, so every p/b/m still closes the lips.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dt_jax.face import arkit
from dt_jax.timebase import FPS

_I = arkit.INDEX


@dataclasses.dataclass(frozen=True)
class Habits:
  """A speaker's nonverbal habits (rates per second at a neutral mood)."""
  blink_rate: float = 0.33
  pause_blink: float = 0.5          # probability of a blink at a pause of 150 ms or more
  brow_rate: float = 0.12           # spontaneous raises
  accent_brow: float = 0.35         # probability that a pitch accent raises the brows
  brow_gain: float = 1.0
  frown_rate: float = 0.04
  gaze_hold: float = 0.9            # mean fixation, seconds
  gaze_range: float = 0.25          # eyeLook amplitude (1 sigma)
  squint_rate: float = 0.05


@dataclasses.dataclass(frozen=True)
class Mood:
  """How an emotion scales the habits."""
  blink: float = 1.0
  brow: float = 1.0
  frown: float = 1.0
  squint: float = 1.0
  gaze: float = 1.0


@dataclasses.dataclass(frozen=True)
class Draw:
  """One draw of the nonverbal process for one utterance."""
  effort: float                     # x the articulation gain
  lead: float                       # seconds added to the speaker's lead of the face on the audio
  layer: np.ndarray                 # [T, 52] weights: added to the speech-driven layer (blinks and lids by max)
  blink_times: np.ndarray           # [N] seconds


def _envelope(t, *, start, attack, hold, release):
  """[len(t)] a smooth bump: up over `attack`, flat for `hold`, down over `release`."""
  x = t - start
  up = np.clip(x / attack, 0, 1)
  down = np.clip(1 - (x - attack - hold) / release, 0, 1)
  env = np.where(x < attack + hold, up, down) * (x >= 0)
  return env * env * (3 - 2 * env)


def _poisson_times(rng, rate: float, duration: float) -> np.ndarray:
  n = rng.poisson(max(rate, 0.0) * duration)
  return np.sort(rng.uniform(0, duration, n))


def _blinks(rng, habits: Habits, mood: Mood, *, duration: float, pauses) -> np.ndarray:
  """Blink onsets: renewal intervals (refractory 0.35 s plus an exponential) and, with some probability, one at
  each long pause, never closer than the refractory time to another."""
  refractory, rate = 0.35, max(habits.blink_rate * mood.blink, 0.05)
  times, t = [], rng.uniform(0, 1 / rate)
  while t < duration:
    times.append(t)
    t += refractory + rng.exponential(max(1 / rate - refractory, 0.05))
  for start, end in pauses:
    at = start + rng.uniform(0.0, 0.06)
    if end - start >= 0.15 and rng.random() < habits.pause_blink and at < duration:
      times.append(at)
  times = np.sort(times)
  kept = [x for i, x in enumerate(times) if i == 0 or x - times[i - 1] >= refractory]
  return np.asarray(kept)


def draw(*, frames: int, pauses, accents, habits: Habits, mood: Mood, rng: np.random.Generator) -> Draw:
  """One nonverbal draw for an utterance of `frames` frames with its pauses [(start, end)] and pitch accents
  (times in seconds)."""
  t = (np.arange(frames) + 0.5) / FPS
  duration = frames / FPS
  layer = np.zeros((frames, arkit.NUM))
  effort = float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2))
  lead = float(np.clip(rng.normal(0.0, 0.008), -0.015, 0.015))
  blinks = _blinks(rng, habits, mood, duration=duration, pauses=pauses)
  lids = np.zeros(frames)
  for b in blinks:
    lids = np.maximum(lids, rng.uniform(0.85, 1.0) * _envelope(t, start=b, attack=rng.uniform(0.05, 0.09),
                                                               hold=rng.uniform(0.0, 0.04),
                                                               release=rng.uniform(0.10, 0.20)))
  raises = list(_poisson_times(rng, habits.brow_rate * mood.brow, duration))
  raises += [a - 0.05 for a in accents if rng.random() < min(0.95, habits.accent_brow * mood.brow)]
  for r in raises:
    env = _envelope(t, start=r, attack=rng.uniform(0.08, 0.18), hold=rng.uniform(0.1, 0.5),
                    release=rng.uniform(0.2, 0.4)) * rng.uniform(0.15, 0.45) * habits.brow_gain
    side = rng.uniform(0.5, 1.0, 2)
    layer[:, _I["browInnerUp"]] += env
    layer[:, _I["browOuterUpLeft"]] += side[0] * env
    layer[:, _I["browOuterUpRight"]] += side[1] * env
  for f in _poisson_times(rng, habits.frown_rate * mood.frown, duration):
    env = _envelope(t, start=f, attack=0.15, hold=rng.uniform(0.2, 0.9), release=0.3) * rng.uniform(0.15, 0.4)
    layer[:, _I["browDownLeft"]] += env
    layer[:, _I["browDownRight"]] += env * rng.uniform(0.8, 1.0)
  for s in _poisson_times(rng, habits.squint_rate * mood.squint, duration):
    env = _envelope(t, start=s, attack=0.12, hold=rng.uniform(0.2, 0.8), release=0.25) * rng.uniform(0.15, 0.35)
    layer[:, _I["eyeSquintLeft"]] += env
    layer[:, _I["eyeSquintRight"]] += env * rng.uniform(0.8, 1.0)
  gx, gy = _gaze(rng, habits, mood, t)
  for name, value in (("eyeLookOutLeft", gx), ("eyeLookInRight", gx), ("eyeLookInLeft", -gx),
                      ("eyeLookOutRight", -gx), ("eyeLookUpLeft", gy), ("eyeLookUpRight", gy),
                      ("eyeLookDownLeft", -gy), ("eyeLookDownRight", -gy)):
    layer[:, _I[name]] += np.maximum(value, 0.0)
  lids = np.maximum(lids, 0.3 * np.maximum(-gy, 0.0))             # looking down lowers the lids
  layer[:, _I["eyeBlinkLeft"]] = lids
  layer[:, _I["eyeBlinkRight"]] = lids
  return Draw(effort=effort, lead=lead, layer=layer.astype(np.float32), blink_times=blinks)


def _gaze(rng, habits: Habits, mood: Mood, t: np.ndarray):
  """Gaze (x: towards the subject's left, y: up) [T] each: fixations of random length joined by 40 ms saccades."""
  sigma = habits.gaze_range * mood.gaze
  gx, gy = np.zeros_like(t), np.zeros_like(t)
  now, x, y = -rng.uniform(0, habits.gaze_hold), *np.clip(rng.normal(0, 0.5 * sigma, 2), -0.6, 0.6)
  while now < t[-1] + 1e-9:
    nx, ny = np.clip(rng.normal(0, sigma, 2), -0.6, 0.6)
    hold = rng.lognormal(np.log(habits.gaze_hold), 0.5)
    start = now + hold
    w = np.clip((t - start) / 0.04, 0, 1)
    w = w * w * (3 - 2 * w)
    here = (t >= now) & (t < start + 0.04)
    gx[here] = (x + (nx - x) * w)[here]
    gy[here] = (y + (ny - y) * w)[here]
    now, x, y = start + 0.04, nx, ny
  return gx, gy
