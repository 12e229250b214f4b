"""Scores against the true distribution, for datasets whose clips carry K alternative true motions.

LVE and EVE compare one sample with one truth; a model that outputs the conditional mean wins them however still
its face is. These compare N samples of a model with the K alternates of the same clip, per region (lips, upper
face), on the region's vertex trajectories: a sample is the whole clip's displacement from the neutral face,
[T, R, 3], and two samples are as far apart as the RMS over frames and vertices of their difference (metres), so a
blink in one sample and not in the other counts wherever and however long it is.

* diversity: the mean pairwise distance between a set's members (the model's N samples; the K alternates);
* energy distance between the samples and the alternates, 2 E|X - Y| - E|X - X'| - E|Y - Y'| (V-statistic: zero
  for a set against itself, never negative), with its floor and the static face's (one point, the neutral face) as
  a ceiling. The floor is what a perfect sampler would score: the alternates' two halves against each other,
  rescaled to the sizes of the sets compared (the V-statistic of two sets of one distribution is (1/n + 1/m) times
  E|Y - Y'| on average, so the halves, n = m = K/2, are rescaled by (1/N + 1/K) / (4/K));
* best-of-N LVE / EVE (the closest sample to the first alternate, which is the stored motion; ProbTalk3D's CE),
  the LVE / EVE of the samples' mean (ProbTalk3D's MEE) and ProbTalk3D's diversity (mean vertex distance over
  the face between paired samples, in metres).
"""
from __future__ import annotations

import jax.numpy as jnp

from dt_jax.eval import metrics


def distances(a, b, *, scale):
  """[B, N, M] RMS distances between flattened trajectories a [B, N, F] and b [B, M, F]; scale [B] is the number of
  (frame, vertex) pairs each trajectory holds. Differences are taken directly, one row of a at a time (the Gram
  form |a|^2 + |b|^2 - 2ab loses near-identical samples to float32 rounding)."""
  rows = [jnp.sum(jnp.square(a[:, i:i + 1] - b), -1) for i in range(a.shape[1])]       # N x [B, M]
  return jnp.sqrt(jnp.stack(rows, 1) / scale[:, None, None])


def mean_pairwise(d):
  """[...] mean of the off-diagonal entries of a square distance matrix [..., N, N] (0 when N = 1)."""
  n = d.shape[-1]
  return jnp.sum(d, (-2, -1)) / max(n * (n - 1), 1)


def energy(dxy, dxx, dyy):
  """[...] energy distance from the three distance matrices (V-statistic: all pairs, diagonals included)."""
  return 2.0 * jnp.mean(dxy, (-2, -1)) - jnp.mean(dxx, (-2, -1)) - jnp.mean(dyy, (-2, -1))


def floor_scale(*, n: int, k: int) -> float:
  """What turns the halves' energy (two sets of k // 2) into a perfect N-sample model's against all K alternates."""
  half = k // 2
  return (1.0 / n + 1.0 / k) / (2.0 / half)


def _trajectories(points, template, idx, mask):
  """points [B, N, T, V, 3] -> [B, N, T * |idx| * 3] displacements from the template on valid frames."""
  d = (points[..., idx, :] - template[:, None, None, idx, :]) * mask[:, None, :, None, None]
  return d.reshape(d.shape[:2] + (-1,))


def region_stats(samples, alternates, *, template, mask, idx) -> dict:
  """Per clip [B]: diversity of the samples and of the alternates, the energy distance between them, its floor
  (the alternates' halves) and the static face's. samples [B, N, T, V, 3], alternates [B, K, T, V, 3]."""
  scale = jnp.maximum(jnp.sum(mask, -1), 1.0) * len(idx)
  x = _trajectories(samples, template, idx, mask)
  y = _trajectories(alternates, template, idx, mask)
  dxx, dyy, dxy = distances(x, x, scale=scale), distances(y, y, scale=scale), distances(x, y, scale=scale)
  half = y.shape[1] // 2
  y1, y2 = y[:, :half], y[:, half:2 * half]
  floor = energy(distances(y1, y2, scale=scale), distances(y1, y1, scale=scale), distances(y2, y2, scale=scale))
  floor = floor * floor_scale(n=x.shape[1], k=y.shape[1])
  zero = jnp.zeros_like(y[:, :1])
  static = energy(distances(zero, y, scale=scale), jnp.zeros(dxx.shape[:1] + (1, 1)), dyy)
  return {"div_model": mean_pairwise(dxx), "div_truth": mean_pairwise(dyy), "energy": energy(dxy, dxx, dyy),
          "energy_floor": floor, "energy_static": static}


def best_and_mean(samples, truth, *, mask, regions: metrics.Regions) -> dict:
  """Per clip [B]: the frame sums of the best sample's LVE / EVE (lowest per-clip mean), of the samples' mean's, and
  ProbTalk3D's diversity (mean over sample pairs of the mean vertex distance over valid frames and the face).
  samples [B, N, T, V, 3], truth [B, T, V, 3]."""
  frames = jnp.maximum(jnp.sum(mask, -1), 1.0)
  out = {}
  for key, idx in (("lve", regions.lips), ("eve", regions.eye_forehead)):
    per = jnp.sum(metrics.max_sq_error(samples, truth[:, None], idx=idx) * mask[:, None], -1)       # [B, N]
    out[f"best_{key}_sum"] = jnp.min(per, -1)
    out[f"mean_{key}_sum"] = jnp.sum(metrics.max_sq_error(jnp.mean(samples, 1), truth, idx=idx) * mask, -1)
  n = samples.shape[1]
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
  total = jnp.zeros(samples.shape[:1])
  for i, j in pairs:                                  # one pair at a time: [B, T, V] each
    gap = jnp.mean(jnp.linalg.norm(samples[:, i] - samples[:, j], axis=-1), -1)
    total = total + jnp.sum(gap * mask, -1) / frames
  out["probtalk_diversity"] = total / max(len(pairs), 1)
  return out
