"""Per-speaker faces for the synthetic corpus: identity warps of the canonical mesh and a procedural ARKit basis.

Scalar weight fields (which vertices a shape moves) are computed once on the canonical mesh, with geodesic
distances where lips or lids must not drag each other; each speaker's displacement directions and magnitudes are
then built on that speaker's own template (units scale with its face width), so the same weights give
anatomically scaled motion. This basis is ours; it is not Apple's or any FLAME-derived set.
"""
from __future__ import annotations

import functools

import numpy as np

from dt_jax.face import arkit
from dt_jax.face import mesh as mesh_lib

_JAW_DEGREES = 22.0


def _smoothstep(x):
  x = np.clip(x, 0.0, 1.0)
  return x * x * (3 - 2 * x)


def _gauss(points, centre, radius):
  return np.exp(-np.sum((points - centre) ** 2, axis=-1) / (2 * radius ** 2))


@functools.lru_cache(maxsize=None)
def _fields() -> dict[str, np.ndarray]:
  """Scalar [V] weight fields on the canonical mesh (units: canonical metres)."""
  m = mesh_lib.canonical()
  v, g = m.vertices.astype(np.float64), mesh_lib.edge_graph(m.vertices.astype(np.float64), m.faces)
  u = 0.01
  up_in, lo_in = mesh_lib.LIPS_INNER_UPPER, mesh_lib.LIPS_INNER_LOWER
  d_up, d_lo = mesh_lib.geodesic(g, up_in[1:-1]), mesh_lib.geodesic(g, lo_in[1:-1])
  # Which lip a vertex goes with, continuously: 0 on the upper lip, 1 on the lower, 1/2 at and beyond the mouth
  # corners, where the share also fades to 1/2 over 2.6 units: the lips part from the middle, never tearing a corner
  # triangle over.
  side = _smoothstep(2.0 * d_up / (d_up + d_lo + 1e-9) - 0.5)
  corner = mesh_lib.geodesic(g, [up_in[0], up_in[-1]])
  lower_share = 0.5 + (side - 0.5) * _smoothstep(corner / (2.6 * u))
  corner_y = v[[61, 291], 1].mean()
  # Jaw: the lower lip's share near the mouth, smoothly handing over to everything below the mouth line further
  # away, fading towards the ears.
  y_based = _smoothstep((corner_y + 0.3 * u - v[:, 1]) / (3.0 * u))
  near = np.clip(np.minimum(d_up, d_lo) / (2.0 * u), 0, 1)
  jaw = (1 - near) * lower_share + near * y_based
  jaw *= _smoothstep((np.abs(v[mesh_lib.EAR_LEFT, 0]) - np.abs(v[:, 0])) / (2.5 * u))
  # Lips: each lip's share over the lips (inside the outer contour), geodesic falloff beyond them.
  d_out_up = mesh_lib.geodesic(g, mesh_lib.LIPS_OUTER_UPPER)
  d_out_lo = mesh_lib.geodesic(g, mesh_lib.LIPS_OUTER_LOWER)
  in_lips = np.isin(np.arange(len(v)), m.regions["lips"])
  upper_lip = np.maximum(in_lips, _smoothstep(1 - d_out_up / (1.2 * u))) * (1 - lower_share)
  lower_cover = np.maximum(in_lips, _smoothstep(1 - d_out_lo / (0.8 * u)))           # the lower lip and beyond it
  lower_lip = lower_cover * lower_share
  parting = np.maximum(0.0, 2 * lower_share - 1)          # how far the lower lip parts from the upper: 0 at corners
  f = dict(jaw=jaw, upper_lip=upper_lip, lower_lip=lower_lip, mouth=np.maximum(upper_lip, lower_lip),
           lower_parting=lower_cover * parting)
  f["corner_right"] = np.exp(-(mesh_lib.geodesic(g, [61]) / (1.8 * u)) ** 2)
  f["corner_left"] = np.exp(-(mesh_lib.geodesic(g, [291]) / (1.8 * u)) ** 2)
  f["left"] = 1 / (1 + np.exp(-v[:, 0] / (0.4 * u)))
  f["chin"] = _gauss(v, v[mesh_lib.CHIN], 1.5 * u)
  # Eyelids: upper lid side of each eye, geodesic falloff up towards the brow.
  for side, upper, lower in (("right", mesh_lib.EYE_RIGHT_UPPER, mesh_lib.EYE_RIGHT_LOWER),
                             ("left", mesh_lib.EYE_LEFT_UPPER, mesh_lib.EYE_LEFT_LOWER)):
    du, dl = mesh_lib.geodesic(g, upper[1:-1]), mesh_lib.geodesic(g, lower[1:-1])
    f[f"lid_{side}"] = _smoothstep(1 - du / (0.9 * u)) * (du < dl)
    f[f"upper_lid_{side}"] = f[f"lid_{side}"] * _smoothstep(mesh_lib.geodesic(g, [upper[0], upper[-1]]) / (0.4 * u))
    f[f"lower_lid_{side}"] = _smoothstep(1 - dl / (0.7 * u)) * (dl < du)
  brow_r, brow_l = v[list(mesh_lib.BROW_RIGHT)], v[list(mesh_lib.BROW_LEFT)]
  f["brow_inner"] = np.maximum(_gauss(v, v[107], 1.3 * u), _gauss(v, v[336], 1.3 * u))
  f["brow_outer_right"] = _gauss(v, brow_r[[0, 1, 5]].mean(0), 1.4 * u)
  f["brow_outer_left"] = _gauss(v, brow_l[[0, 1, 5]].mean(0), 1.4 * u)
  f["brow_right"] = _gauss(v, brow_r.mean(0), 1.8 * u)
  f["brow_left"] = _gauss(v, brow_l.mean(0), 1.8 * u)
  cheek = np.array([3.6 * u, -2.0 * u, 0.0])
  for side, sx in (("right", -1), ("left", 1)):
    c = cheek * [sx, 1, 1]
    c[2] = v[np.argmin(np.sum((v[:, :2] - c[:2]) ** 2, axis=1)), 2]
    f[f"cheek_{side}"] = _gauss(v, c, 1.6 * u)
    f[f"cheek_upper_{side}"] = _gauss(v, c + [0, 1.5 * u, 0], 1.2 * u)
    nose_wing = v[mesh_lib.NOSE_TIP] + [sx * 1.1 * u, 0.2 * u, -1.0 * u]
    f[f"nose_{side}"] = _gauss(v, nose_wing, 0.8 * u)
  return f


def identity_template(params: dict[str, float]) -> np.ndarray:
  """[V, 3] a speaker's neutral face: region-weighted warps of the canonical closed-mouth mesh.

  params: scale, width, height, depth, mouth_width, lip_thickness, nose_length, jaw_width, chin_length,
  brow_height, eye_spacing (relative amounts around 0, scale around 1).
  """
  m = mesh_lib.canonical()
  v = m.vertices.astype(np.float64)
  u = 0.01
  centre = v.mean(0)
  f = _fields()
  mouth_c = v[[13, 14]].mean(0)
  out = v.copy()
  out[:, 0] += params["mouth_width"] * (v[:, 0] - mouth_c[0]) * _gauss(v, mouth_c, 2.0 * u)
  out[:, 1] += params["lip_thickness"] * (v[:, 1] - mouth_c[1]) * f["mouth"]
  out[:, 2] += params["nose_length"] * u * _gauss(v, v[mesh_lib.NOSE_TIP], 1.5 * u)
  out[:, 0] += params["jaw_width"] * v[:, 0] * f["jaw"]
  out[:, 1] -= params["chin_length"] * u * _smoothstep((mouth_c[1] - v[:, 1]) / (4 * u))
  out[:, 1] += params["brow_height"] * u * np.maximum(f["brow_left"], f["brow_right"])
  eyes = np.maximum(_gauss(v, v[[33, 133]].mean(0), 1.5 * u), _gauss(v, v[[263, 362]].mean(0), 1.5 * u))
  out[:, 0] += params["eye_spacing"] * u * np.sign(v[:, 0]) * eyes
  axes = params["scale"] * np.array([1 + params["width"], 1 + params["height"], 1 + params["depth"]])
  out = centre + (out - centre) * axes
  return out.astype(np.float32)


def blendshape_basis(template: np.ndarray) -> np.ndarray:
  """[52, V, 3] displacement fields in ARKit (EmoTalk) order, built on `template` [V, 3]."""
  v = template.astype(np.float64)
  u = mesh_lib.unit(v)
  B = np.zeros((arkit.NUM, len(v), 3))
  _mouth_shapes(B, v, _fields(), u)
  _eye_and_brow_shapes(B, v, _fields(), u)
  return B.astype(np.float32)


def _put(B, name: str, field: np.ndarray, vec) -> None:
  """Adds the displacement `vec` [3] weighted by `field` [V] to shape `name` of B [52, V, 3]."""
  B[arkit.INDEX[name]] += field[:, None] * np.asarray(vec, np.float64)


def _mouth_shapes(B, v, f, u) -> None:
  """The jaw, lips, mouth corners and tongue of B [52, V, 3] on vertices v [V, 3] (fields f, unit u)."""
  put = functools.partial(_put, B)
  # Jaw: a rotation about a hinge behind the chin at ear height.
  pivot = np.array([0.0, v[[mesh_lib.EAR_LEFT, mesh_lib.EAR_RIGHT], 1].mean(), v[mesh_lib.CHIN, 2] - 3 * u])
  th = np.deg2rad(_JAW_DEGREES)
  r = v - pivot
  rot = np.stack([r[:, 0], r[:, 1] * np.cos(th) - r[:, 2] * np.sin(th), r[:, 1] * np.sin(th) + r[:, 2] * np.cos(th)], -1)
  jaw_open = (rot - r) * f["jaw"][:, None]
  B[arkit.INDEX["jawOpen"]] = jaw_open
  # mouthClose: the lower lip returns to the upper lip's position while the jaw stays open.
  B[arkit.INDEX["mouthClose"]] = -(rot - r) * f["lower_parting"][:, None]
  put("jawForward", f["jaw"], [0, 0, 0.8 * u])
  put("jawLeft", f["jaw"], [0.7 * u, 0, 0])
  put("jawRight", f["jaw"], [-0.7 * u, 0, 0])
  mc = v[[13, 14]].mean(0)
  toward = np.zeros_like(v)
  toward[:, 0] = -(v[:, 0] - mc[0])
  B[arkit.INDEX["mouthPucker"]] = f["mouth"][:, None] * (0.45 * toward + [0, 0, 0.9 * u])
  B[arkit.INDEX["mouthFunnel"]] = f["mouth"][:, None] * (0.3 * toward + [0, 0, 0.6 * u])
  put("mouthFunnel", f["upper_lip"], [0, 0.25 * u, 0])
  put("mouthFunnel", f["lower_lip"], [0, -0.25 * u, 0])
  left, right = f["left"], 1 - f["left"]
  for side, sx, corner, lr in (("Left", 1, f["corner_left"], left), ("Right", -1, f["corner_right"], right)):
    put(f"mouthSmile{side}", corner, [sx * 0.35 * u, 0.45 * u, -0.15 * u])
    put(f"mouthFrown{side}", corner, [sx * 0.1 * u, -0.4 * u, 0])
    put(f"mouthStretch{side}", corner, [sx * 0.5 * u, -0.1 * u, -0.1 * u])
    put(f"mouthDimple{side}", corner, [sx * 0.25 * u, 0, -0.25 * u])
    put(f"mouthPress{side}", lr * f["upper_lip"], [0, -0.1 * u, -0.05 * u])
    put(f"mouthPress{side}", lr * f["lower_lip"], [0, 0.1 * u, -0.05 * u])
    put(f"mouthUpperUp{side}", lr * f["upper_lip"], [0, 0.35 * u, 0.05 * u])
    put(f"mouthLowerDown{side}", lr * f["lower_lip"], [0, -0.35 * u, 0.05 * u])
    put(f"mouth{side}", f["mouth"], [sx * 0.5 * u, 0, 0])
  put("mouthRollUpper", f["upper_lip"], [0, -0.15 * u, -0.2 * u])
  put("mouthRollLower", f["lower_lip"], [0, 0.15 * u, -0.2 * u])
  put("mouthShrugUpper", f["upper_lip"], [0, 0.15 * u, 0.1 * u])
  put("mouthShrugLower", np.maximum(f["lower_lip"], f["chin"]), [0, 0.2 * u, 0.1 * u])
  B[arkit.INDEX["tongueOut"]] = 0.15 * jaw_open
  put("tongueOut", f["lower_lip"], [0, -0.1 * u, 0.15 * u])


def _eye_and_brow_shapes(B, v, f, u) -> None:
  """The lids, gaze, brows, cheeks and nose of B [52, V, 3]."""
  put = functools.partial(_put, B)
  # Eyes: the lids meet on the line between the eye's corners; each lid follows its contour's way to that line at
  # its own x (a shear along the eye, zero at the corners, which turns no triangle over).
  for side, sx, upper, lower in (("Right", -1, mesh_lib.EYE_RIGHT_UPPER, mesh_lib.EYE_RIGHT_LOWER),
                                 ("Left", 1, mesh_lib.EYE_LEFT_UPPER, mesh_lib.EYE_LEFT_LOWER)):
    s = side.lower()
    up, lo = v[list(upper)], v[list(lower)]                                # [9, 3] each, corners shared
    t = (up[:, 0] - up[0, 0]) / (up[-1, 0] - up[0, 0])
    meet = np.stack([up[:, 0], up[0, 1] + t * (up[-1, 1] - up[0, 1]), (up[:, 2] + lo[:, 2]) / 2], -1)
    order = np.argsort(up[:, 0])
    along = lambda d: np.stack([np.interp(v[:, 0], up[order, 0], d[order, c]) for c in range(3)], -1)  # [V, 3]
    blink = f[f"lid_{s}"][:, None] * along(meet - up) + f[f"lower_lid_{s}"][:, None] * along(meet - lo)
    B[arkit.INDEX[f"eyeBlink{side}"]] = blink
    B[arkit.INDEX[f"eyeWide{side}"]] = -0.35 * blink
    B[arkit.INDEX[f"eyeSquint{side}"]] = 0.2 * blink
    put(f"eyeSquint{side}", f[f"lower_lid_{s}"], [0, 0.12 * u, 0])
    put(f"eyeLookUp{side}", f[f"upper_lid_{s}"], [0, 0.08 * u, 0])
    put(f"eyeLookDown{side}", f[f"upper_lid_{s}"], [0, -0.1 * u, 0])
    put(f"eyeLookIn{side}", f[f"upper_lid_{s}"], [-sx * 0.05 * u, 0, 0])
    put(f"eyeLookOut{side}", f[f"upper_lid_{s}"], [sx * 0.05 * u, 0, 0])
    put(f"browOuterUp{side}", f[f"brow_outer_{s}"], [0, 0.5 * u, 0])
    put(f"browDown{side}", f[f"brow_{s}"], [-sx * 0.15 * u, -0.4 * u, 0])
    put(f"cheekSquint{side}", f[f"cheek_upper_{s}"], [0, 0.3 * u, 0])
    put(f"noseSneer{side}", f[f"nose_{s}"], [0, 0.3 * u, 0.05 * u])
  put("browInnerUp", f["brow_inner"], [0, 0.55 * u, 0])
  put("cheekPuff", f["cheek_left"], [0.4 * u, 0, 0.15 * u])
  put("cheekPuff", f["cheek_right"], [-0.4 * u, 0, 0.15 * u])
