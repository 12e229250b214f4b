"""Training windows and evaluation sequences as deterministic, resumable numpy batches (grain MapDataset).

Training: every epoch is a fresh permutation (seeded); each example yields one random fixed-length window of
aligned audio and motion (clips shorter than the window are padded and masked). Element i of the stream depends
only on (seed, i), so a run restarted at step s reads exactly the batches it would have read. Each process reads
its own rows of every global batch.
"""
from __future__ import annotations

import dataclasses

import grain
import numpy as np

from dt_jax.data import normalization
from dt_jax.data import source as source_lib
from dt_jax.timebase import samples_for


@dataclasses.dataclass(frozen=True)
class _Validated(grain.transforms.Map):
  split: str

  def map(self, element):
    index, ex = element
    source_lib.check_example(ex, f"{self.split}[{index}] {_name(ex)}")
    return ex


def _name(ex) -> str:
  u = ex.get("utterance", b"")
  return u.decode() if isinstance(u, bytes) else str(u)


def _labels(ex) -> dict:
  return {"template": np.asarray(ex["template"], np.float32), "speaker": np.int32(ex["speaker"]),
          "emotion": np.int32(ex["emotion"]), "intensity": np.int32(ex.get("intensity", 1))}


def crop_window(ex: dict, rng: np.random.Generator, *, window_frames: int) -> dict:
  """A random window: audio [A], motion [W, D], mask [W] (1 = real frame), plus labels."""
  motion = np.asarray(ex["motion"], np.float32)
  audio = np.asarray(ex["audio"], np.float32)
  t, w = len(motion), window_frames
  start = int(rng.integers(0, t - w + 1)) if t > w else 0
  n = min(w, t - start)
  out_m = np.zeros((w, motion.shape[1]), np.float32)
  out_m[:n] = motion[start:start + n]
  a0, a_len = samples_for(start), samples_for(w)
  out_a = np.zeros(a_len, np.float32)
  seg = audio[a0:a0 + min(a_len, samples_for(n))]
  out_a[:len(seg)] = seg
  mask = np.zeros(w, np.float32)
  mask[:n] = 1.0
  return {"audio": out_a, "motion": out_m, "mask": mask, **_labels(ex)}


def train_batches(data_source, *, window_frames: int, global_batch: int, seed: int, start_step: int = 0,
                  process_index: int = 0, process_count: int = 1, split: str = "train",
                  stats: normalization.MotionStats | None = None) -> grain.MapDataset:
  """Batches (dicts of [B_local, ...] arrays) for steps start_step, start_step + 1, ... (infinite); motion in
  model units when `stats` are given."""
  if global_batch % process_count:
    raise ValueError(f"global batch {global_batch} does not divide over {process_count} processes")
  if len(data_source) == 0:
    raise ValueError(f"split {split!r} is empty")
  local = global_batch // process_count
  ds = grain.MapDataset.range(len(data_source)).map(lambda i: (i, data_source[i]))
  ds = ds.map(_Validated(split)).shuffle(seed=seed).repeat(None)
  ds = ds.random_map(lambda ex, rng: crop_window(ex, rng, window_frames=window_frames), seed=seed + 1)
  if stats is not None:
    ds = ds.map(lambda ex: {**ex, "motion": normalization.normalize(ex["motion"], stats).astype(np.float32)})
  ds = ds.batch(local, drop_remainder=True)[process_index::process_count]
  return ds[start_step:]


def eval_batches(data_source, *, batch_size: int, split: str = "eval", pad_to_multiple: int = 30):
  """Full sequences, padded to one static length for the split, in source order.

  Yields dicts: audio [B, A], motion [B, T, D], mask [B, T], valid [B] (0 for filler rows of the last batch),
  index [B] (position in the source), plus labels. T is the split's longest clip rounded up to
  `pad_to_multiple` frames, so one compiled function serves the whole split.
  """
  n = len(data_source)
  if n == 0:
    raise ValueError(f"split {split!r} is empty")
  examples = []
  for i in range(n):
    ex = data_source[i]
    source_lib.check_example(ex, f"{split}[{i}] {_name(ex)}")
    examples.append(ex)
  t_max = max(len(ex["motion"]) for ex in examples)
  t_pad = -(-t_max // pad_to_multiple) * pad_to_multiple
  dim = examples[0]["motion"].shape[1]
  for b0 in range(0, n, batch_size):
    rows = list(range(b0, min(b0 + batch_size, n)))
    batch = {"audio": np.zeros((batch_size, samples_for(t_pad)), np.float32),
             "motion": np.zeros((batch_size, t_pad, dim), np.float32),
             "mask": np.zeros((batch_size, t_pad), np.float32),
             "valid": np.zeros(batch_size, np.float32), "index": np.full(batch_size, -1, np.int32)}
    labels = [_labels(examples[r]) for r in rows]
    for key in labels[0]:
      batch[key] = np.stack([lab[key] for lab in labels] + [labels[0][key]] * (batch_size - len(rows)))
    for j, r in enumerate(rows):
      ex = examples[r]
      t, a = len(ex["motion"]), min(len(ex["audio"]), samples_for(t_pad))
      batch["motion"][j, :t] = ex["motion"]
      batch["audio"][j, :a] = ex["audio"][:a]
      batch["mask"][j, :t] = 1.0
      batch["valid"][j] = 1.0
      batch["index"][j] = r
    yield batch
