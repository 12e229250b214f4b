"""Articulation metrics have closed-form answers: the truth scores contrast 1, a static face 0, and the lip opening,
phone frames and loudness envelope are what their definitions say."""
import numpy as np
import pytest

from dt_jax.eval import articulation

FPS = 30


def _clip(seed=0, frames=90):
  """A clip whose truth opens 8 mm at vowels, closes at p/b/m, rests in pauses, and is loud when open."""
  rng = np.random.default_rng(seed)
  cls = np.array([0, 2, 1, 3, 1, 2, 1, 0])
  edges = np.sort(rng.uniform(0.1, frames / FPS - 0.1, len(cls) - 1))
  start, end = np.r_[0.0, edges], np.r_[edges, frames / FPS]
  opening = np.zeros(frames)
  t = (np.arange(frames) + 0.5) / FPS
  for a, b, c in zip(start, end, cls):
    opening[(t >= a) & (t < b)] = {0: 0.0, 1: 0.008, 2: -0.0005, 3: 0.003}[c]
  audio = np.repeat(0.01 + 0.3 * opening / 0.008, 16000 // FPS + 1)[: int(frames / FPS * 16000)]
  audio = audio * np.sin(np.arange(len(audio)) * 0.3)
  return opening, audio, (start, end, cls)


def test_lip_opening_is_the_pair_distance_minus_the_neutral():
  neutral = np.array([[0.0, 0.0, 0.0], [0.0, -0.001, 0.0]])
  lips = np.stack([neutral, neutral + [[0, 0.002, 0], [0, -0.003, 0]]])         # [T=2, 2, 3]
  np.testing.assert_allclose(articulation.lip_opening(lips, neutral), [0.0, 0.005], atol=1e-12)


def test_phone_frames_pick_midpoints_and_pause_frames():
  where = articulation.phone_frames([0.0, 0.1, 0.2], [0.1, 0.2, 0.4], [0, 1, 2], 12)
  assert list(where["vowel"]) == [4] and list(where["bilabial"]) == [9]        # 0.15 s and 0.3 s
  assert list(where["pause"]) == [0, 1, 2]                                     # centres 1/60, 3/60, 5/60 s < 0.1


def test_truth_scores_one_and_a_static_face_zero():
  truth, static = articulation.Accumulator(), articulation.Accumulator()
  for seed in range(4):
    opening, audio, phones = _clip(seed)
    truth.add(model=opening, truth=opening, audio=audio, phones=phones)
    static.add(model=np.zeros_like(opening), truth=opening, audio=audio, phones=phones)
  t, s = truth.result(), static.result()
  assert t["contrast_ratio"] == pytest.approx(1.0) and t["loudness_ratio"] == pytest.approx(1.0)
  assert t["model_vowel_mm"] == pytest.approx(8.0) and t["model_bilabial_mm"] == pytest.approx(-0.5)
  assert t["model_pause_mm"] == pytest.approx(0.0) and t["truth_loudness_corr"] > 0.5
  assert s["contrast_ratio"] == 0.0 and s["loudness_ratio"] == 0.0 and s["model_pause_mm"] == 0.0


def test_a_half_open_mouth_scores_half_and_open_pauses_show():
  acc = articulation.Accumulator()
  for seed in range(3):
    opening, audio, phones = _clip(seed)
    acc.add(model=0.5 * opening + 0.002, truth=opening, audio=audio, phones=phones)
  r = acc.result()
  assert r["contrast_ratio"] == pytest.approx(0.5) and r["model_pause_mm"] == pytest.approx(2.0)
  assert r["loudness_ratio"] == pytest.approx(1.0)                    # correlation ignores scale and offset
