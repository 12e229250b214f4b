"""Opening built datasets by name: TFDS data sources (array_record, no TensorFlow) plus the rig.

A dataset name is a TFDS name with an optional config, e.g. `synthetic_talkers/tiny`. A built dataset is read
from its own files (dataset_info.json, features.json, the shards and the rig), so reading one needs no builder
code: building is `tfds_builders.build`, which depends on this package and never the other way round.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds
import tqdm

from dt_jax.data import schema
from dt_jax.face import rig as rig_lib
from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE


class CorruptDataError(ValueError):
  """An example that cannot be read from its shard (truncated or altered bytes); the message names the split, the
  shard file and the example."""


class Split(collections.abc.Sequence):
  """A split's random-access examples, whose read errors name the split, the shard file and the example index
  (array_record's own say only 'hash mismatch at byte N', nine frames deep)."""

  def __init__(self, name: str, source, *, files, lengths):
    self.name, self._source = name, source
    self._files, self._ends = [str(f) for f in files], np.cumsum(lengths)

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index):
    # Out of range is an IndexError (iteration stops at it); array_record's own is a ValueError.
    if isinstance(index, (int, np.integer)) and not -len(self) <= index < len(self):
      raise IndexError(f"split {self.name!r} has {len(self)} examples; index {index}")
    try:
      return self._source[index]
    except IndexError:
      raise
    except Exception as e:  # pylint: disable=broad-except  # riegeli, tensorstore and decoders raise many types
      i = int(index) % max(len(self), 1)
      shard = int(np.searchsorted(self._ends, i, side="right"))
      where = self._files[shard] if shard < len(self._files) else "its shard"
      raise CorruptDataError(f"split {self.name!r}, example {i}: cannot be read from {where} "
                             f"({type(e).__name__}: {' '.join(str(e).split())[:200]}); rebuild the dataset") from e


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A built dataset: its splits as random-access sources, its rig and TFDS info."""
  name: str
  splits: dict            # split name -> tfds data source (random access, numpy examples)
  rig: rig_lib.Rig
  info: tfds.core.DatasetInfo

  @property
  def motion_dim(self) -> int:
    return int(self.info.features["motion"].shape[-1])

  @property
  def speakers(self) -> list[str]:
    return list(self.info.features["speaker"].names)

  @property
  def emotions(self) -> list[str]:
    return list(self.info.features["emotion"].names)


def open_dataset(name: str, *, data_dir: str) -> Dataset:
  """Opens a built dataset from its files; a missing one is a clear error that says how to build it."""
  b = None
  try:
    b = tfds.builder(name, data_dir=data_dir, file_format="array_record")
  except tfds.core.registered.DatasetNotFoundError:
    pass
  if b is None or not os.path.exists(os.path.join(b.data_dir, "dataset_info.json")):
    raise FileNotFoundError(f"dataset {name!r} is not built under {data_dir}: run "
                            f"`python launch/build_data.py --dataset={name} --data_dir={data_dir}`")
  splits = {name: Split(name, src, files=b.info.splits[name].filepaths, lengths=b.info.splits[name].shard_lengths)
            for name, src in b.as_data_source().items()}
  rig = rig_lib.Rig.load(os.path.join(b.data_dir, b.info.metadata.get("rig_file", schema.RIG_FILE)))
  return Dataset(name=name, splits=splits, rig=rig, info=b.info)


def text(value) -> str:
  """A Text feature as str (data sources return bytes)."""
  return value.decode() if isinstance(value, bytes) else str(value)


def check_split(split: Split, *, desc: str | None = None) -> None:
  """Reads every example of `split` and checks it (schema.check_example): a damaged shard or a bad example is found
  before a run's first step rather than at the step (or the validation after the last step) that reads it."""
  for i in tqdm.tqdm(range(len(split)), desc=desc or f"checking {split.name}", unit="clip", leave=False,
                     disable=len(split) < 200):
    ex = split[i]
    schema.check_example(ex, f"{split.name}[{i}] {text(ex.get('utterance', b''))}".rstrip())
