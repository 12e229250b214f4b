"""Opening and building datasets by name: TFDS data sources (array_record, no TensorFlow) plus the rig.

A dataset name is a TFDS name with an optional config, e.g. `synthetic_talkers/tiny`. Our builders live in
`tfds_builders/<name>`; importing that package registers the builder.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import os

import numpy as np
import tensorflow_datasets as tfds
import tqdm

from dt_jax.face import rig as rig_lib
from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE


def register(name: str) -> None:
  """Imports `tfds_builders.<dataset>` so TFDS knows the builder (no-op for TFDS's own datasets)."""
  base = name.split("/")[0].split(":")[0]
  try:
    importlib.import_module(f"tfds_builders.{base}")
  except ModuleNotFoundError as e:
    if e.name != f"tfds_builders.{base}":
      raise


def builder(name: str, *, data_dir: str, **kwargs) -> tfds.core.DatasetBuilder:
  register(name)
  return tfds.builder(name, data_dir=data_dir, file_format="array_record", **kwargs)


def build(name: str, *, data_dir: str, manual_dir: str | None = None,
          builder_kwargs: dict | None = None) -> tfds.core.DatasetBuilder:
  """Builds (or reuses) the dataset as array_record files under `data_dir`.

  manual_dir: where the user's downloaded files are (VOCASET, 3D-ETF); builder_kwargs: options of our builders
  (e.g. `num_workers`, `regions`, `rig`), None values dropped.
  """
  kwargs = {k: v for k, v in (builder_kwargs or {}).items() if v is not None}
  b = builder(name, data_dir=data_dir, **kwargs)
  built = os.path.exists(os.path.join(b.data_dir, "dataset_info.json"))
  if getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", None) and not built and not (
      manual_dir and os.path.isdir(manual_dir) and os.listdir(manual_dir)):
    raise FileNotFoundError(f"{name}: --manual_dir={manual_dir} does not exist or is empty: it must hold the files "
                            f"you downloaded (README, 'Real datasets')" if manual_dir else
                            f"{name}: needs --manual_dir, the folder of the files you downloaded (README, 'Real "
                            f"datasets')")
  config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  b.download_and_prepare(file_format="array_record", download_config=config)
  return b


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
  """Opens a built dataset; a missing one is a clear error that says how to build it."""
  b = builder(name, data_dir=data_dir)
  if not os.path.exists(os.path.join(b.data_dir, "dataset_info.json")):
    raise FileNotFoundError(f"dataset {name!r} is not built under {data_dir}: run "
                            f"`python launch/build_data.py --dataset={name} --data_dir={data_dir}`")
  splits = {name: Split(name, src, files=b.info.splits[name].filepaths, lengths=b.info.splits[name].shard_lengths)
            for name, src in b.as_data_source().items()}
  rig = rig_lib.Rig.load(os.path.join(b.data_dir, b.info.metadata.get("rig_file", "rig.npz")))
  return Dataset(name=name, splits=splits, rig=rig, info=b.info)


def text(value) -> str:
  """A Text feature as str (data sources return bytes)."""
  return value.decode() if isinstance(value, bytes) else str(value)


class BadExampleError(ValueError):
  """An example whose audio and motion disagree, or that holds NaN/Inf."""


def check_example(ex: dict, where: str) -> None:
  """Raises BadExampleError naming `where` (e.g. 'train[17] S03_happy_tr03_2') when `ex` is unusable."""
  audio, motion = np.asarray(ex["audio"]), np.asarray(ex["motion"])
  if audio.ndim != 1 or motion.ndim != 2 or len(motion) == 0:
    raise BadExampleError(f"{where}: expected audio [S] and motion [T, D]; got {audio.shape} and {motion.shape}")
  expected = len(motion) * SAMPLE_RATE / FPS
  if abs(len(audio) - expected) > SAMPLE_RATE / FPS:
    raise BadExampleError(f"{where}: audio has {len(audio)} samples but motion has {len(motion)} frames "
                          f"(expected {expected:.0f} +- {SAMPLE_RATE // FPS} samples at {SAMPLE_RATE} Hz, {FPS} fps)")
  if "motion_alternates" in ex and np.shape(ex["motion_alternates"])[1:] != motion.shape:
    raise BadExampleError(f"{where}: motion_alternates {np.shape(ex['motion_alternates'])} do not match motion "
                          f"{motion.shape} (expected [K, T, D])")
  for key in ("audio", "motion", "template", "motion_alternates"):
    if key in ex and not np.all(np.isfinite(ex[key])):
      raise BadExampleError(f"{where}: {key} holds NaN or Inf")
  if "phone_start" in ex:
    start, end = np.asarray(ex["phone_start"]), np.asarray(ex["phone_end"])
    if start.shape != end.shape or start.shape != np.shape(ex["phone_class"]) or np.any(end < start):
      raise BadExampleError(f"{where}: phone_start, phone_end and phone_class must be [P] with start <= end")


def check_split(split: Split, *, desc: str | None = None) -> None:
  """Reads every example of `split` and checks it (check_example): a damaged shard or a bad example is found
  before a run's first step rather than at the step (or the validation after the last step) that reads it."""
  for i in tqdm.tqdm(range(len(split)), desc=desc or f"checking {split.name}", unit="clip", leave=False,
                     disable=len(split) < 200):
    ex = split[i]
    check_example(ex, f"{split.name}[{i}] {text(ex.get('utterance', b''))}".rstrip())
