"""A dataset's face rig: per-speaker neutral templates, optional blendshape bases, triangles and region sets.

Blendshape datasets store weights [T, 52]; the rig turns them into vertices, `template + sum_k w_k B_k`, one
matmul. Vertex datasets store offsets from the template [T, V*3] and carry a rig without a basis. Rigs travel with
the dataset as `rig.npz` beside its TFDS files.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from dt_jax import safe_pickle
from dt_jax.face import mesh

REGIONS = ("lips", "eye_forehead", "upper_face")


@dataclasses.dataclass(frozen=True)
class Rig:
  speakers: tuple[str, ...]            # speaker names, in the dataset's ClassLabel order
  templates: np.ndarray | None         # [S, V, 3] float32 neutral faces, or [1, V, 3] shared by every speaker;
                                       # None: no mesh (metrics in coefficient space)
  faces: np.ndarray                    # [F, 3] int32 triangles (may be empty when unknown)
  regions: dict[str, np.ndarray]       # name -> int32 vertex indices: all of REGIONS, or none when unknown
  basis: np.ndarray | None = None      # [S or 1, K, V, 3] float32 blendshape displacement fields, or None
  lip_pair: tuple[int, int] | None = None   # vertices of the upper and lower inner-lip midpoints (lip opening)

  @property
  def num_vertices(self) -> int:
    return 0 if self.templates is None else self.templates.shape[1]

  @property
  def has_regions(self) -> bool:
    return all(r in self.regions for r in REGIONS)

  def speaker_index(self, speaker: str | int) -> int:
    """Row of `templates`/`basis` for a speaker (name or ClassLabel index); 0 when one face is shared."""
    s = int(speaker) if isinstance(speaker, (int, np.integer)) else self.speakers.index(speaker)
    return 0 if self.templates is not None and len(self.templates) == 1 else s

  def vertices(self, motion: np.ndarray, speaker: str | int) -> np.ndarray:
    """[T, V, 3] vertices from weights [T, K] (with a basis) or offsets [T, V*3] (without)."""
    if self.templates is None:
      raise ValueError("this dataset's rig has no mesh (no templates/basis were given when it was built)")
    s = self.speaker_index(speaker)
    motion = np.asarray(motion, np.float32)
    if self.basis is not None:
      k = self.basis.shape[1]
      if motion.shape[-1] != k:
        raise ValueError(f"motion has {motion.shape[-1]} channels; the rig's basis has {k}")
      offsets = np.einsum("tk,kvc->tvc", motion, self.basis[s])
    else:
      offsets = motion.reshape(motion.shape[0], -1, 3)
    return self.templates[s][None] + offsets

  def folds(self, motion: np.ndarray, speaker: str | int) -> np.ndarray:
    """[T] how many triangles each frame of `motion` turns inside out against the speaker's neutral face."""
    if not len(self.faces):
      raise ValueError("this dataset's rig has no triangles")
    neutral = self.templates[self.speaker_index(speaker)]
    return mesh.inverted_triangles(self.vertices(motion, speaker), self.faces, neutral).sum(-1)

  def save(self, path: str) -> None:
    arrays = dict(speakers=np.asarray(self.speakers), faces=np.asarray(self.faces, np.int32).reshape(-1, 3),
                  **{f"region_{k}": np.asarray(v, np.int32) for k, v in self.regions.items()})
    if self.templates is not None:
      arrays["templates"] = self.templates
    if self.basis is not None:
      arrays["basis"] = self.basis
    if self.lip_pair is not None:
      arrays["lip_pair"] = np.asarray(self.lip_pair, np.int32)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)

  @classmethod
  def load(cls, path: str) -> "Rig":
    try:
      with np.load(path, allow_pickle=False) as z:
        regions = {k[len("region_"):]: z[k].astype(np.int32) for k in z.files if k.startswith("region_")}
        rig = cls(speakers=tuple(str(s) for s in z["speakers"]),
                  templates=z["templates"].astype(np.float32) if "templates" in z.files else None,
                  faces=z["faces"].astype(np.int32), regions=regions,
                  basis=z["basis"].astype(np.float32) if "basis" in z.files else None,
                  lip_pair=tuple(int(i) for i in z["lip_pair"]) if "lip_pair" in z.files else None)
    except (OSError, KeyError, ValueError) as e:
      raise ValueError(f"{path}: not a valid rig file ({e})") from e
    missing = [r for r in REGIONS if r not in rig.regions]
    if rig.regions and missing:
      raise ValueError(f"{path}: rig lacks region index sets {missing}")
    return rig


def load_regions(path: str) -> dict[str, np.ndarray]:
  """Region index sets from FLAME_masks.pkl (region name -> indices; lips = `lips`, eye_forehead = upper_face =
  `eye_region` U `forehead`) or from a folder of `lips.txt`, `eye_forehead.txt`, `upper_face.txt` lists."""
  if os.path.isdir(path):
    regions = {}
    for name in REGIONS:
      f = os.path.join(path, f"{name}.txt")
      if not os.path.exists(f):
        raise FileNotFoundError(f"{path}: region list {name}.txt is missing (need {', '.join(REGIONS)})")
      try:
        with open(f) as fh:
          regions[name] = np.unique(np.array(fh.read().replace(",", " ").split(), dtype=np.int64))
      except ValueError as e:
        raise ValueError(f"{f}: expected integers separated by commas or spaces") from e
    return {k: v.astype(np.int32) for k, v in regions.items()}
  masks = safe_pickle.load(path)
  need = ("lips", "eye_region", "forehead")
  if not isinstance(masks, dict) or any(k not in masks for k in need):
    raise ValueError(f"{path}: expected FLAME masks, a dict with at least {need}")
  eyes = np.union1d(np.asarray(masks["eye_region"]), np.asarray(masks["forehead"]))
  regions = {"lips": np.unique(np.asarray(masks["lips"])), "eye_forehead": eyes, "upper_face": eyes}
  return {k: v.astype(np.int32) for k, v in regions.items()}


def load_blendshape_rig(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
  """(template [V, 3], basis [52, V, 3] displacements, faces [F, 3], regions) from a user's rig file.

  `.npz` with `template` [V, 3] and `basis` [52, V, 3] (displacements; optional `faces`, `lips`, `eye_forehead`,
  `upper_face`), or `.npy` [53, V, 3]: the template then the 52 blendshape meshes (displacement = mesh - template,
  as EmoTalk describes its FLAME-topology heads).
  """
  try:
    if str(path).endswith(".npy"):
      heads = np.load(path, allow_pickle=False).astype(np.float32)
      if heads.ndim != 3 or heads.shape[0] != 53 or heads.shape[2] != 3:
        raise ValueError(f"expected [53, V, 3], got {heads.shape}")
      return heads[0], heads[1:] - heads[:1], np.zeros((0, 3), np.int32), {}
    with np.load(path, allow_pickle=False) as z:
      template, basis = z["template"].astype(np.float32), z["basis"].astype(np.float32)
      faces = z["faces"].astype(np.int32) if "faces" in z.files else np.zeros((0, 3), np.int32)
      regions = {k: z[k].astype(np.int32) for k in REGIONS if k in z.files}
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(f"{path}: not a blendshape rig ({e})") from e
  if template.ndim != 2 or template.shape[1] != 3 or basis.shape != (52,) + template.shape:
    raise ValueError(f"{path}: expected template [V, 3] and basis [52, V, 3], got {template.shape}, {basis.shape}")
  if not (np.all(np.isfinite(template)) and np.all(np.isfinite(basis))):
    raise ValueError(f"{path}: rig holds NaN or Inf")
  return template, basis, faces, regions

