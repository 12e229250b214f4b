"""A dataset's face rig: per-speaker neutral templates, optional blendshape bases, triangles and region sets.

Blendshape datasets store weights [T, 52]; the rig turns them into vertices, `template + sum_k w_k B_k`, one
matmul. Vertex datasets store offsets from the template [T, V*3] and carry a rig without a basis. Rigs travel with
the dataset as `rig.npz` beside its TFDS files.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

REGIONS = ("lips", "eye_forehead", "upper_face")


@dataclasses.dataclass(frozen=True)
class Rig:
  speakers: tuple[str, ...]            # speaker names, in the dataset's ClassLabel order
  templates: np.ndarray | None         # [S, V, 3] float32 neutral faces; None: no mesh (coefficients only)
  faces: np.ndarray                    # [F, 3] int32 triangles (may be empty when unknown)
  regions: dict[str, np.ndarray]       # name -> int32 vertex indices: all of REGIONS, or none when unknown
  basis: np.ndarray | None = None      # [S, K, V, 3] float32 blendshape displacement fields, or None

  @property
  def num_vertices(self) -> int:
    return 0 if self.templates is None else self.templates.shape[1]

  @property
  def has_regions(self) -> bool:
    return all(r in self.regions for r in REGIONS)

  def speaker_index(self, speaker: str | int) -> int:
    return speaker if isinstance(speaker, (int, np.integer)) else self.speakers.index(speaker)

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

  def save(self, path: str) -> None:
    arrays = dict(speakers=np.asarray(self.speakers), faces=np.asarray(self.faces, np.int32).reshape(-1, 3),
                  **{f"region_{k}": np.asarray(v, np.int32) for k, v in self.regions.items()})
    if self.templates is not None:
      arrays["templates"] = self.templates
    if self.basis is not None:
      arrays["basis"] = self.basis
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
                  basis=z["basis"].astype(np.float32) if "basis" in z.files else None)
    except (OSError, KeyError, ValueError) as e:
      raise ValueError(f"{path}: not a valid rig file ({e})") from e
    missing = [r for r in REGIONS if r not in rig.regions]
    if rig.regions and missing:
      raise ValueError(f"{path}: rig lacks region index sets {missing}")
    return rig
