"""MediaPipe's canonical face mesh, opened at the mouth and eyes, with a closed-mouth neutral and region sets.

Vertex i is MediaPipe landmark i; x > 0 is the subject's left, y up, z towards the camera. Units here are metres
(the asset is in centimetres). The asset's mouth is 5.5 mm open at rest and triangles fill the mouth slit and the
eye openings: we delete those triangles (so lips and lids can part) and bake a closed-mouth neutral.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.resources

import matplotlib.path
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

# MediaPipe landmark contours (left/right are the subject's).
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
BROW_RIGHT = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
BROW_LEFT = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
NOSE_TIP, CHIN, EAR_RIGHT, EAR_LEFT, FOREHEAD_TOP = 1, 152, 234, 454, 10
# Edges flipped at each inner eye corner: the asset's sliver from the corner across to the nose side turns over
# whenever the upper lid closes; the flipped pair spans the corner from above instead.
CANTHUS_FLIPS = ((243, 173), (398, 463))
LIP_PAIR = (13, 14)          # the inner-lip midpoints (upper, lower): the lip opening is their distance
CANONICAL_WIDTH = 0.153      # metres between the ears (EAR_RIGHT, EAR_LEFT) of the canonical mesh


@dataclasses.dataclass(frozen=True)
class FaceMesh:
  vertices: np.ndarray          # [V, 3] float32, metres, closed-mouth neutral
  faces: np.ndarray             # [F, 3] int32, mouth slit and eye openings removed
  regions: dict[str, np.ndarray]   # name -> sorted int32 vertex indices: lips, eye_forehead, upper_face

  @property
  def num_vertices(self) -> int:
    return self.vertices.shape[0]


def read_obj(path) -> tuple[np.ndarray, np.ndarray]:
  """Vertices [V, 3] and triangles [F, 3] (0-based) of a Wavefront OBJ; raises naming the file if malformed."""
  verts, faces = [], []
  with open(path) as f:
    for lineno, line in enumerate(f, 1):
      parts = line.split()
      try:
        if parts and parts[0] == "v":
          verts.append([float(x) for x in parts[1:4]])
        elif parts and parts[0] == "f":
          faces.append([int(x.split("/")[0]) - 1 for x in parts[1:4]])
      except ValueError as e:
        raise ValueError(f"{path}:{lineno}: malformed OBJ line {line.strip()!r}") from e
  v, fc = np.asarray(verts, np.float64), np.asarray(faces, np.int32)
  if v.ndim != 2 or len(v) == 0 or fc.ndim != 2 or fc.min() < 0 or fc.max() >= len(v):
    raise ValueError(f"{path}: not a triangle mesh with valid indices")
  return v, fc


def write_obj(path, vertices: np.ndarray, faces: np.ndarray) -> str:
  """Writes a Wavefront OBJ of vertices [V, 3] and triangles [F, 3] (0-based); returns the path."""
  v = np.asarray(vertices, np.float64)
  lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
  lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces, np.int64)]
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return str(path)


def edge_graph(vertices: np.ndarray, faces: np.ndarray) -> scipy.sparse.csr_matrix:
  """Sparse symmetric [V, V] graph of mesh edges weighted by length (for geodesic distances)."""
  e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
  w = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=-1)
  n = len(vertices)
  g = scipy.sparse.coo_matrix((w, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
  return g.maximum(g.T)


def geodesic(graph: scipy.sparse.csr_matrix, sources) -> np.ndarray:
  """[V] shortest path distance along mesh edges to the nearest of `sources`."""
  return scipy.sparse.csgraph.dijkstra(graph, indices=list(sources), min_only=True)


def unit(vertices: np.ndarray) -> float:
  """The face's length unit: 1 cm on the canonical face, scaled with this face's width between the ears."""
  return 0.01 * (vertices[EAR_LEFT, 0] - vertices[EAR_RIGHT, 0]) / CANONICAL_WIDTH


def triangle_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """[..., F, 3] unnormalised normals (right-handed in the triangle's vertex order) of vertices [..., V, 3]."""
  v, f = np.asarray(vertices), np.asarray(faces)
  a = v[..., f[:, 0], :]
  e1, e2 = v[..., f[:, 1], :] - a, v[..., f[:, 2], :] - a                     # [..., F, 3] edges from corner 0
  return np.stack([e1[..., 1] * e2[..., 2] - e1[..., 2] * e2[..., 1], e1[..., 2] * e2[..., 0] - e1[..., 0] * e2[..., 2],
                   e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]], axis=-1)


def inverted_triangles(vertices: np.ndarray, faces: np.ndarray, neutral: np.ndarray) -> np.ndarray:
  """bool [..., F]: the triangles of vertices [..., V, 3] turned inside out (or collapsed) against `neutral` [V, 3]:
  their normal points away from the neutral face's normal."""
  n0 = triangle_normals(neutral, faces)
  return np.einsum("...fc,fc->...f", triangle_normals(vertices, faces), n0) <= 0.0


def flip_edge(faces: np.ndarray, a: int, b: int) -> np.ndarray:
  """[F, 3] with the edge a-b, shared by two triangles, replaced by the edge between their opposite vertices
  (orientation kept); raises when a-b is not an inner edge."""
  pair = np.flatnonzero(np.isin(faces, [a, b]).sum(1) == 2)
  if len(pair) != 2:
    raise ValueError(f"edge {a}-{b} is not shared by two triangles")
  out = faces.copy()
  for i, j in ((pair[0], pair[1]), (pair[1], pair[0])):
    tri = list(faces[i])
    k = next(x for x in faces[j] if x not in (a, b))            # the other triangle's opposite vertex
    gone = a if tri[(tri.index(b) + 1) % 3] == a else b          # the shared vertex that follows the other one
    out[i] = [k if x == gone else x for x in tri]
  return out


def _inside(vertices: np.ndarray, loop) -> np.ndarray:
  return matplotlib.path.Path(vertices[list(loop), :2]).contains_points(vertices[:, :2], radius=1e-9)


def _close_mouth(v: np.ndarray, graph) -> np.ndarray:
  """Moves the inner lips together (each half the gap) with a geodesic falloff over each lip."""
  v = v.copy()
  upper, lower = LIPS_INNER_UPPER[1:-1], LIPS_INNER_LOWER[1:-1]
  gaps = v[list(upper), 1] - v[list(lower), 1]                      # [9] > 0
  d_up, d_lo = geodesic(graph, upper), geodesic(graph, lower)
  radius = 0.012
  for contour, dist, sign in ((upper, d_up, -1.0), (lower, d_lo, 1.0)):
    own = dist < np.minimum(d_up, d_lo) + 1e-12                        # this lip's side of the slit
    d_each = np.stack([geodesic(graph, [c]) for c in contour])         # [9, V]
    w = 1.0 / (d_each + 1e-4) ** 2
    shift = (w * gaps[:, None]).sum(0) / w.sum(0) / 2.0                # Shepard interpolation of half-gaps
    fall = np.clip(1.0 - dist / radius, 0.0, 1.0) ** 2 * (3 - 2 * np.clip(1.0 - dist / radius, 0, 1))
    v[:, 1] += np.where(own, sign * shift * fall, 0.0)
  return v


@functools.lru_cache(maxsize=None)
def canonical() -> FaceMesh:
  """The opened, closed-mouth canonical mesh in metres, with its region index sets."""
  path = importlib.resources.files("dt_jax") / "assets" / "canonical_face_model.obj"
  v, faces = read_obj(path)
  v = v * 0.01
  holes = [set(LIPS_INNER_UPPER + LIPS_INNER_LOWER), set(EYE_RIGHT_UPPER + EYE_RIGHT_LOWER),
           set(EYE_LEFT_UPPER + EYE_LEFT_LOWER)]
  keep = [not any(set(f) <= h for h in holes) for f in faces]
  faces = faces[np.asarray(keep)]
  for a, b in CANTHUS_FLIPS:
    faces = flip_edge(faces, a, b)
  v = _close_mouth(v, edge_graph(v, faces))
  outer = LIPS_OUTER_UPPER + LIPS_OUTER_LOWER[::-1]
  lips = _inside(v, outer) | np.isin(np.arange(len(v)), outer)
  lids_bottom = v[list(EYE_RIGHT_LOWER + EYE_LEFT_LOWER), 1].min()
  eye_forehead = v[:, 1] >= lids_bottom - 0.003
  upper_face = v[:, 1] >= v[NOSE_TIP, 1]
  regions = {name: np.flatnonzero(m).astype(np.int32)
             for name, m in (("lips", lips), ("eye_forehead", eye_forehead), ("upper_face", upper_face))}
  return FaceMesh(vertices=v.astype(np.float32), faces=faces.astype(np.int32), regions=regions)
