"""LVE, EVE, MVE and FDD on vertices, jit-able, with frame masks for padded batches.

Conventions (as the public FaceFormer/CodeTalker/FaceDiffuser code computes them):
* LVE = mean over frames of max over lip vertices of the SQUARED distance ||y^_v - y_v||^2 (no sqrt);
  EVE the same over eye + forehead vertices; MVE the same over all vertices.
* LVE, EVE and MVE pool all frames of all sequences before the mean; FDD is the mean over sequences:
  FDD = mean_v∈upper [ std_t ||y_v - template_v||^2 - std_t ||y^_v - template_v||^2 ]   (signed; |FDD| also).
* Blendshape datasets go through the rig first (`blendshapes_to_vertices`).
Reported with the paper's scales: LVE/EVE/MVE x1e-5, FDD x1e-7 (`PAPER_SCALES`).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.face import arkit

PAPER_SCALES = {"lve": 1e-5, "eve": 1e-5, "mve": 1e-5, "fdd": 1e-7, "abs_fdd": 1e-7}


def blendshapes_to_vertices(weights, *, template, basis):
  """[..., T, K] weights, template [..., V, 3], basis [..., K, V, 3] -> vertices [..., T, V, 3]."""
  return template[..., None, :, :] + jnp.einsum("...tk,...kvc->...tvc", weights, basis)


def max_sq_error(pred, gt, *, idx=None):
  """[..., T] per-frame max over vertices (optionally `idx`) of squared distance; pred, gt [..., T, V, 3]."""
  if idx is not None:
    pred, gt = pred[..., idx, :], gt[..., idx, :]
  return jnp.max(jnp.sum((pred - gt) ** 2, axis=-1), axis=-1)


def dynamics(verts, *, template, idx, mask):
  """[...] mean over `idx` vertices of the std over valid frames of ||v - template||^2 (np.std, ddof=0)."""
  d2 = jnp.sum((verts[..., idx, :] - template[..., None, idx, :]) ** 2, axis=-1)   # [..., T, |idx|]
  m = mask[..., None]
  n = jnp.maximum(jnp.sum(m, axis=-2), 1.0)
  mean = jnp.sum(d2 * m, axis=-2) / n
  var = jnp.sum(((d2 - mean[..., None, :]) ** 2) * m, axis=-2) / n
  return jnp.mean(jnp.sqrt(var), axis=-1)


def fdd(pred, gt, *, template, idx, mask):
  """[...] signed FDD per sequence: dynamics of the ground truth minus dynamics of the prediction."""
  return (dynamics(gt, template=template, idx=idx, mask=mask)
          - dynamics(pred, template=template, idx=idx, mask=mask))


@dataclasses.dataclass(frozen=True)
class Regions:
  lips: np.ndarray
  eye_forehead: np.ndarray
  upper_face: np.ndarray

  @classmethod
  def from_rig(cls, rig) -> "Regions":
    if not rig.has_regions:
      raise ValueError("the dataset's rig has no region index sets (lips, eye_forehead, upper_face); for VOCASET "
                       "rebuild with FLAME_masks.pkl or region lists (see README, Datasets)")
    return cls(**{k: np.asarray(rig.regions[k]) for k in ("lips", "eye_forehead", "upper_face")})


COEFFICIENT_REGIONS = Regions(**{k: np.asarray(v) for k, v in arkit.REGION_COLUMNS.items()})


@dataclasses.dataclass(frozen=True)
class Space:
  """Where metrics are computed: on rig vertices, or (no rig) on the 52 ARKit coefficients as 1-D points."""
  name: str            # "vertices" | "coefficients"
  regions: Regions


def space_for(rig, *, motion_dim: int) -> Space:
  """Vertices when the rig has a mesh (and, for blendshapes, a basis); else ARKit coefficient space, which
  `describe` labels so results are never mistaken for vertex errors. Coefficient arrays [..., T, 52] become
  points [..., T, 52, 1] with `coefficient_points`."""
  blendshapes = motion_dim == arkit.NUM
  if rig is not None and rig.templates is not None and (rig.basis is not None or not blendshapes):
    return Space("vertices", Regions.from_rig(rig))
  if not blendshapes:
    raise ValueError(f"motion of dimension {motion_dim} has no rig to put it on vertices")
  return Space("coefficients", COEFFICIENT_REGIONS)


def coefficient_points(weights):
  """[..., T, K] -> [..., T, K, 1]: each coefficient a 1-D point, so the vertex metrics apply unchanged."""
  return weights[..., None]


def describe(space: Space) -> str:
  if space.name == "vertices":
    return "metrics on mesh vertices (squared distances)"
  return ("metrics in ARKit COEFFICIENT space (no blendshape rig was given): LVE over jaw/mouth/tongue, EVE over "
          "brow/eye coefficients; not comparable with vertex-space numbers")


def sequence_stats(pred, gt, *, template, mask, regions: Regions) -> dict:
  """Per-batch sums to pool over a split. pred, gt [B, T, V, 3]; template [B, V, 3]; mask [B, T] (1 = real).

  Returns lve_sum/eve_sum/mve_sum (over valid frames), frames, fdd [B] (per sequence).
  """
  lve = max_sq_error(pred, gt, idx=regions.lips)
  eve = max_sq_error(pred, gt, idx=regions.eye_forehead)
  mve = max_sq_error(pred, gt)
  return {"lve_sum": jnp.sum(lve * mask), "eve_sum": jnp.sum(eve * mask), "mve_sum": jnp.sum(mve * mask),
          "frames": jnp.sum(mask),
          "fdd": fdd(pred, gt, template=template, idx=regions.upper_face, mask=mask)}


class Accumulator:
  """Pools `sequence_stats` over batches (frame-pooled LVE/EVE/MVE, sequence-mean FDD)."""

  def __init__(self):
    self._sums = {"lve_sum": 0.0, "eve_sum": 0.0, "mve_sum": 0.0, "frames": 0.0}
    self._fdd: list[np.ndarray] = []

  def add(self, stats: dict, valid=None) -> None:
    stats = jax.device_get(stats)
    for k in self._sums:
      self._sums[k] += float(stats[k])
    f = np.asarray(stats["fdd"])
    self._fdd.append(f if valid is None else f[np.asarray(valid) > 0])

  def result(self) -> dict:
    frames = max(self._sums["frames"], 1.0)
    fdd_all = np.concatenate(self._fdd) if self._fdd else np.zeros(0)
    return {"lve": self._sums["lve_sum"] / frames, "eve": self._sums["eve_sum"] / frames,
            "mve": self._sums["mve_sum"] / frames, "fdd": float(np.mean(fdd_all)) if fdd_all.size else 0.0,
            "abs_fdd": float(np.mean(np.abs(fdd_all))) if fdd_all.size else 0.0,
            "frames": int(self._sums["frames"]), "sequences": int(fdd_all.size)}


def in_paper_units(result: dict) -> dict:
  """Divides each metric by its paper scale (LVE 1.2 means 1.2e-5)."""
  return {k: (v / PAPER_SCALES[k] if k in PAPER_SCALES else v) for k, v in result.items()}
