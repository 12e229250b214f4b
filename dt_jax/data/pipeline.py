"""Training windows and evaluation sequences as deterministic, resumable numpy batches (grain MapDataset).

Training: every epoch is a fresh permutation (seeded); each example yields one random fixed-length window of
aligned audio and motion (clips shorter than the window are padded and masked), optionally with acoustic variety
(augment.py: speed, reverberation, noise, band limits, gain). With a frozen pretrained encoder's cached features
(`features`, feature_store.py) the window is cut from one of the clip's renditions (renditions.py), drawn at
random: its features, its motion and, where asked (`with_audio`: a student beside its teacher), its audio.
Element i of the stream, its augmentation included, depends only on (seed, i), so a run restarted at step s reads
exactly the batches it would have read. Each process reads its own rows of every global batch. Evaluation
sequences are never augmented.
"""
from __future__ import annotations

import dataclasses

import grain
import numpy as np

from dt_jax.data import augment as augment_lib
from dt_jax.data import feature_store
from dt_jax.data import normalization
from dt_jax.data import renditions
from dt_jax.data import schema
from dt_jax.data import source as source_lib
from dt_jax.timebase import samples_for


@dataclasses.dataclass(frozen=True)
class _Validated(grain.transforms.Map):
  split: str

  def map(self, element):
    index, ex = element
    schema.check_example(ex, f"{self.split}[{index}] {_name(ex)}")
    return index, ex


def _name(ex) -> str:
  return source_lib.text(ex.get("utterance", b""))


def _labels(ex) -> dict:
  return {"template": np.asarray(ex["template"], np.float32), "speaker": np.int32(ex["speaker"]),
          "emotion": np.int32(ex["emotion"]), "intensity": np.int32(ex.get("intensity", 1))}


def _crop(motion: np.ndarray, audio: np.ndarray | None, rng: np.random.Generator, w: int, feats=None):
  """A random window of w frames: audio [samples_for(w)] (None without audio), motion [w, D], mask [w] and, with
  `feats` [T, C], features [w, C] (all zero-padded past the clip)."""
  t = len(motion)
  start = int(rng.integers(0, t - w + 1)) if t > w else 0
  n = min(w, t - start)
  pad = lambda x: np.concatenate([x[start:start + n], np.zeros((w - n,) + x.shape[1:], np.float32)]).astype(np.float32)
  out_a = None
  if audio is not None:
    a0, a_len = samples_for(start), samples_for(w)
    out_a = np.zeros(a_len, np.float32)
    seg = audio[a0:a0 + min(a_len, samples_for(n))]
    out_a[:len(seg)] = seg
  mask = np.zeros(w, np.float32)
  mask[:n] = 1.0
  return out_a, pad(motion), mask, (None if feats is None else pad(feats))


def crop_window(ex: dict, rng: np.random.Generator, *, window_frames: int,
                augment: augment_lib.AugmentConfig | None = None, other=None) -> dict:
  """A random window: audio [A], motion [W, D], mask [W] (1 = real frame), plus labels. With `augment`, the window
  is first cut at another speed (more or fewer source frames, both streams resampled to W frames) and its audio
  gets acoustic variety; `other()` gives another clip's audio for babble noise."""
  motion = np.asarray(ex["motion"], np.float32)
  audio = np.asarray(ex["audio"], np.float32)
  factor = augment_lib.speed_factor(rng, augment) if augment else 1.0
  src = max(1, int(round(window_frames * factor)))
  out_a, out_m, mask, _ = _crop(motion, audio, rng, src)
  if src != window_frames:
    real = int(mask.sum())
    out_a, out_m = augment_lib.resample_window(out_a, out_m, frames=window_frames)
    mask = (np.arange(window_frames) < int(np.floor(real * window_frames / src))).astype(np.float32)
    out_m *= mask[:, None]
  if augment:
    out_a = augment_lib.augment_audio(out_a, rng, augment, other=other)
  return {"audio": out_a, "motion": out_m, "mask": mask, **_labels(ex)}


@dataclasses.dataclass(frozen=True)
class FeatureWindows:
  """Windows from cached features: which renditions exist (`features`), how they were made (`seed`, `augment`:
  the recipe of renditions.py), and whether the window also carries the rendition's audio."""
  features: feature_store.SplitFeatures
  seed: int
  augment: augment_lib.AugmentConfig | None
  with_audio: bool = False


def feature_window(index: int, ex: dict, rng: np.random.Generator, *, window_frames: int, windows: FeatureWindows,
                   data_source) -> dict:
  """A random window of a random rendition of clip `index`: features [W, C], motion [W, D], mask [W], labels, and
  with `windows.with_audio` its audio [A]."""
  feats_src, seed, cfg = windows.features, windows.seed, windows.augment
  r = int(rng.integers(feats_src.renditions))
  feats = feats_src.get(index, r)
  motion = renditions.motion(ex, seed=seed, clip=index, r=r, cfg=cfg)
  if len(feats) != len(motion):
    raise ValueError(f"cached features of {feats_src.split}[{index}] rendition {r} have {len(feats)} frames, its "
                     f"motion {len(motion)}: the cache in {feats_src.root} is stale; delete it")
  audio = (renditions.audio(ex, seed=seed, clip=index, r=r, cfg=cfg, source=data_source)
           if windows.with_audio else None)
  out_a, out_m, mask, out_f = _crop(motion, audio, rng, window_frames, feats)
  out = {"features": out_f, "motion": out_m, "mask": mask, **_labels(ex)}
  if out_a is not None:
    out["audio"] = out_a
  return out


def train_batches(data_source, *, window_frames: int, global_batch: int, seed: int, start_step: int = 0,
                  process_index: int = 0, process_count: int = 1, split: str = "train",
                  stats: normalization.MotionStats | None = None,
                  augment: augment_lib.AugmentConfig | None = None,
                  features: FeatureWindows | None = None) -> grain.MapDataset:
  """Batches (dicts of [B_local, ...] arrays) for steps start_step, start_step + 1, ... (infinite); motion in
  model units when `stats` are given; acoustic variety with `augment` (None: none); with `features`, windows of
  cached features instead (FeatureWindows; their renditions carry the variety, `augment` is not used)."""
  if global_batch % process_count:
    raise ValueError(f"global batch {global_batch} does not divide over {process_count} processes")
  if len(data_source) == 0:
    raise ValueError(f"split {split!r} is empty")
  local = global_batch // process_count
  ds = grain.MapDataset.range(len(data_source)).map(lambda i: (i, data_source[i]))
  ds = ds.map(_Validated(split)).shuffle(seed=seed).repeat(None)
  n = len(data_source)

  def window(element, rng):
    index, ex = element
    if features is not None:
      return feature_window(index, ex, rng, window_frames=window_frames, windows=features, data_source=data_source)
    other = lambda: data_source[int(rng.integers(n))]["audio"]
    return crop_window(ex, rng, window_frames=window_frames, augment=augment, other=other)
  ds = ds.random_map(window, seed=seed + 1)
  if stats is not None:
    ds = ds.map(lambda ex: {**ex, "motion": normalization.normalize(ex["motion"], stats).astype(np.float32)})
  ds = ds.batch(local, drop_remainder=True)[process_index::process_count]
  return ds[start_step:]


def eval_batches(data_source, *, batch_size: int, split: str = "eval", pad_to_multiple: int = 30):
  """Full sequences, padded to one static length for the split, in source order.

  Yields dicts: audio [B, A], motion [B, T, D], mask [B, T], valid [B] (0 for filler rows of the last batch),
  index [B] (position in the source), plus labels; where the split has them, `alternates` [B, K, T, D] (K true
  motions of each clip, the first equal to `motion`) and `phones` (per row (start [P], end [P], class [P]) or
  None). T is the split's longest clip rounded up to `pad_to_multiple` frames, so one compiled function serves the
  whole split.
  """
  n = len(data_source)
  if n == 0:
    raise ValueError(f"split {split!r} is empty")
  examples = []
  for i in range(n):
    ex = data_source[i]
    schema.check_example(ex, f"{split}[{i}] {_name(ex)}")
    examples.append(ex)
  t_max = max(len(ex["motion"]) for ex in examples)
  t_pad = -(-t_max // pad_to_multiple) * pad_to_multiple
  dim = examples[0]["motion"].shape[1]
  k = min(len(ex.get("motion_alternates", ())) for ex in examples)
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
    if k > 1:
      batch["alternates"] = np.zeros((batch_size, k, t_pad, dim), np.float32)
      for j, r in enumerate(rows):
        alt = np.asarray(examples[r]["motion_alternates"][:k], np.float32)
        batch["alternates"][j, :, :alt.shape[1]] = alt
    if "phone_start" in examples[0]:
      batch["phones"] = [tuple(np.asarray(examples[r][f"phone_{f}"]) for f in ("start", "end", "class"))
                         for r in rows] + [None] * (batch_size - len(rows))
    yield batch
