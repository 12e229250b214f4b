"""Cached speech features of a frozen pretrained encoder, stored beside the dataset and keyed by what made them.

Layout, under the built dataset's folder (e.g. `data/synthetic_talkers/default/2.2.0/features/whisper_base/`):
  <split>_r<r>.npy        float16 [sum of T, C]: every clip's features at the motion's frame rate, in split order
  <split>_r<r>.index.npy  int64 [N + 1]: clip i's rows are index[i]:index[i + 1]
  <split>_r<r>.key        the key the two files were made for
A file set is used only when its key equals the key asked for: the sha256 of the encoder's weights, of every clip's
audio in the split, and of the rendition's recipe (renditions.py: seed and augmentation), so changed weights, a
rebuilt corpus or another augmentation recompute it and a second run reuses it. Each file is written under a
temporary name and renamed, the key last, so a killed computation leaves nothing that passes for finished.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np


def folder(dataset_dir: str, encoder: str) -> str:
  return os.path.join(dataset_dir, "features", encoder)


def audio_digest(data_source) -> str:
  """sha256 over every clip's audio (its length and float32 bytes), in split order."""
  h = hashlib.sha256()
  for i in range(len(data_source)):
    a = np.ascontiguousarray(np.asarray(data_source[i]["audio"], np.float32))
    h.update(np.int64(len(a)).tobytes())
    h.update(a.tobytes())
  return h.hexdigest()


def key(*, weights_sha256: str, audio_sha256: str, rendition: int, recipe: dict) -> str:
  """The key of one rendition of a split (recipe: what renditions.py needs, e.g. seed and augmentation; the clean
  rendition 0 ignores it)."""
  spec = {"weights": weights_sha256, "audio": audio_sha256, "rendition": rendition,
          "recipe": recipe if rendition else {}}
  return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _paths(root: str, split: str, r: int) -> tuple[str, str, str]:
  base = os.path.join(root, f"{split}_r{r}")
  return base + ".npy", base + ".index.npy", base + ".key"


def has(root: str, split: str, r: int, want: str) -> bool:
  data, index, key_file = _paths(root, split, r)
  if not (os.path.exists(data) and os.path.exists(index) and os.path.exists(key_file)):
    return False
  with open(key_file) as f:
    return f.read().strip() == want


def _atomic_save(path: str, array: np.ndarray) -> None:
  tmp = f"{path}.{os.getpid()}.tmp.npy"
  np.save(tmp, array)
  os.replace(tmp, path)


def write(root: str, split: str, r: int, want: str, clips: list[np.ndarray]) -> None:
  """Stores one rendition's features (clips [T_i, C] in split order) under key `want`."""
  os.makedirs(root, exist_ok=True)
  data, index, key_file = _paths(root, split, r)
  offsets = np.concatenate([[0], np.cumsum([len(c) for c in clips])]).astype(np.int64)
  _atomic_save(data, np.concatenate(clips).astype(np.float16))
  _atomic_save(index, offsets)
  tmp = f"{key_file}.{os.getpid()}.tmp"
  with open(tmp, "w") as f:
    f.write(want + "\n")
  os.replace(tmp, key_file)


@dataclasses.dataclass
class SplitFeatures:
  """One split's cached features: `get(i, r)` -> float32 [T, C] of clip i's rendition r (memory-mapped)."""
  root: str
  split: str
  renditions: int

  def __post_init__(self):
    self._data, self._index = [], []
    for r in range(self.renditions):
      data, index, _ = _paths(self.root, self.split, r)
      self._data.append(np.load(data, mmap_mode="r"))
      self._index.append(np.load(index))

  @property
  def width(self) -> int:
    return int(self._data[0].shape[1])

  def __len__(self) -> int:
    return len(self._index[0]) - 1

  def get(self, i: int, r: int = 0) -> np.ndarray:
    lo, hi = self._index[r][i], self._index[r][i + 1]
    return np.asarray(self._data[r][lo:hi], np.float32)
