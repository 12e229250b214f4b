"""What the renderer draws besides the skin of a MediaPipe-topology face: a mouth cavity, teeth and eyeballs.

Each part is placed from the frame's own vertices (the cavity hangs off the inner lips, the lower teeth follow the
lower lip, the eyeballs sit behind the lids) so it moves with any motion, ground truth or predicted. Other
topologies (FLAME's VOCASET heads) are drawn as skin alone: these landmarks are MediaPipe's.
"""
from __future__ import annotations

import numpy as np

from dt_jax.face import arkit
from dt_jax.face import mesh as mesh_lib

MOUTH_RING = mesh_lib.LIPS_INNER_UPPER + mesh_lib.LIPS_INNER_LOWER[-2:0:-1]     # [20] around the inner lips
_GAZE_DEGREES = (25.0, 20.0)          # eyeLook* at weight 1: yaw, pitch


def is_mediapipe(num_vertices: int) -> bool:
  return num_vertices == mesh_lib.canonical().num_vertices


def cavity(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(points [41, 3], triangles [60, 3]): a cup behind the inner lips, 1.6 units deep, its rim on the lips (the
  browser player builds the same cup from the same ring, dt_jax/viewer/static/player.js)."""
  u = mesh_lib.unit(v)
  ring = v[list(MOUTH_RING)]                                                    # [20, 3]
  centre = ring.mean(0)
  back = centre + (ring - centre) * [0.8, 0.6, 1.0] + [0.0, 0.0, -1.0 * u]      # [20, 3] a narrower ring behind
  bottom = centre + [0.0, -0.2 * u, -1.6 * u]
  points = np.concatenate([ring, back, bottom[None]])
  n = len(ring)
  tris = []
  for i in range(n):
    j = (i + 1) % n
    tris += [(i, n + i, j), (j, n + i, n + j), (n + i, 2 * n, n + j)]
  return points, np.asarray(tris, np.int32)


def teeth(v: np.ndarray, neutral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(points, triangles): an upper row fixed to the head (placed from the neutral face) and a lower row that
  follows the lower lip's middle, each a curved strip half a unit behind the inner lips."""
  u = mesh_lib.unit(neutral)
  follow = v[mesh_lib.LIP_PAIR[1]] - neutral[mesh_lib.LIP_PAIR[1]]
  pts, tris = [], []
  for contour, top, bottom, shift in ((mesh_lib.LIPS_INNER_UPPER[2:-2], 0.8, -0.15, 0.0),
                                      (mesh_lib.LIPS_INNER_LOWER[2:-2], 0.1, -0.7, 1.0)):
    edge = neutral[list(contour)] * [0.8, 1.0, 1.0] + [0.0, 0.0, -0.5 * u]       # [7, 3] a little inside the lips
    edge = edge + shift * follow
    k0 = sum(len(p) for p in pts)
    pts.append(np.concatenate([edge + [0, top * u, 0], edge + [0, bottom * u, 0]]))
    m = len(edge)
    for i in range(m - 1):
      tris += [(k0 + i, k0 + m + i, k0 + i + 1), (k0 + i + 1, k0 + m + i, k0 + m + i + 1)]
  return np.concatenate(pts), np.asarray(tris, np.int32)


def eyes(v: np.ndarray) -> list[tuple[np.ndarray, float]]:
  """[(centre [3], radius)] of the right and left eyeballs: behind each eye opening, their front just behind it."""
  out = []
  for upper, lower in ((mesh_lib.EYE_RIGHT_UPPER, mesh_lib.EYE_RIGHT_LOWER),
                       (mesh_lib.EYE_LEFT_UPPER, mesh_lib.EYE_LEFT_LOWER)):
    contour = v[list(upper + lower)]
    width = np.linalg.norm(v[upper[0]] - v[upper[-1]])
    r = 0.5 * width
    centre = contour.mean(0) + [0.0, 0.0, -r - 0.04 * width]
    out.append((centre, float(r)))
  return out


def gaze(weights: np.ndarray | None, frames: int) -> np.ndarray:
  """[T, 2, 3] unit view directions of the right and left eye from ARKit weights [T, 52] (eyeLook*); straight
  ahead (+z) when there are none."""
  d = np.zeros((frames, 2, 3))
  d[..., 2] = 1.0
  if weights is None or np.shape(weights)[-1] != arkit.NUM:
    return d
  w = np.asarray(weights, np.float64)[:frames]
  for e, side, out_sign in ((0, "Right", -1.0), (1, "Left", 1.0)):
    col = lambda name: w[:, arkit.INDEX[f"eyeLook{name}{side}"]]
    yaw = np.deg2rad(_GAZE_DEGREES[0]) * out_sign * (col("Out") - col("In"))
    pitch = np.deg2rad(_GAZE_DEGREES[1]) * (col("Up") - col("Down"))
    d[:, e] = np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)], -1)
  return d
