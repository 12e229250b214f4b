"""Computing a frozen pretrained speech encoder's features for training, once: the cache beside the dataset.

`ensure(ds, cfg)` returns the training and validation splits' features (data/feature_store.py), computing what is
missing or stale: per training clip `cfg.data.features.renditions` renditions (the clean clip and seeded augmented
copies, data/renditions.py), per validation clip the clean one. Clips are encoded in batches of similar length,
each at its own length (models/whisper.py: padding changes nothing), with the same function the talker samples
with (Talker.speech_features), so a teacher trains on exactly the features it later computes itself.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
import tqdm

from dt_jax import timebase
from dt_jax.data import augment as augment_lib
from dt_jax.data import feature_store
from dt_jax.data import renditions
from dt_jax.models import talker
from dt_jax.models import whisper
from dt_jax.models import whisper_weights

_BUCKET_FRAMES = 30          # clips are padded to a whole second: few compiled shapes, little padding


def recipe(cfg) -> tuple[int, augment_lib.AugmentConfig | None, dict]:
  """(seed, augmentation, the recipe dict keying the renditions) of a config's `data` block."""
  augment = augment_lib.from_config(cfg.data.augment)
  seed = int(cfg.data.features.seed)
  return seed, augment, {"seed": seed, "augment": dataclasses.asdict(augment) if augment else None}


def _encode_fn(name: str, num_layers: int):
  """jitted (params, audio [B, S], mask [B, T]) -> features [B, T, C], the talker's own speech_features."""
  model = talker.Talker(talker.TalkerConfig(encoder=None, personalizer=None, denoiser=None, motion_dim=0,
                                            speech_encoder=name, speech_layers=num_layers))
  return jax.jit(lambda p, a, m: model.apply({"params": {"speech_encoder": p}}, a, m,
                                             method=talker.Talker.speech_features))


def _compute(encode, params, audios: list[np.ndarray], *, desc: str, batch: int = 8) -> list[np.ndarray]:
  """Features [T_i, C] of each audio (T_i = its whole frames), batched by length."""
  frames = [timebase.frames_for(len(a)) for a in audios]
  order = np.argsort(frames, kind="stable")
  out = [None] * len(audios)
  with tqdm.tqdm(total=len(audios), desc=desc, unit="clip") as bar:
    for b0 in range(0, len(order), batch):
      rows = order[b0:b0 + batch]
      t_pad = -(-max(frames[i] for i in rows) // _BUCKET_FRAMES) * _BUCKET_FRAMES
      audio = np.zeros((batch, timebase.samples_for(t_pad)), np.float32)
      mask = np.zeros((batch, t_pad), np.float32)
      for j, i in enumerate(rows):
        n = min(len(audios[i]), audio.shape[1])
        audio[j, :n], mask[j, :frames[i]] = audios[i][:n], 1.0
      feats = np.asarray(encode(params, audio, mask))
      for j, i in enumerate(rows):
        out[i] = feats[j, :frames[i]]
      bar.update(len(rows))
  return out


def ensure(ds, cfg, *, splits: dict[str, int] | None = None) -> dict[str, feature_store.SplitFeatures]:
  """{split: SplitFeatures} for `splits` ({split: renditions}; default train with cfg.data.features.renditions and
  validation with 1), computing and storing what the cache lacks."""
  name, num_layers = cfg.model.speech_encoder, int(cfg.model.speech_layers)
  if name not in whisper.CONFIGS:
    raise ValueError(f"model.speech_encoder {name!r} is not a pretrained encoder; one of {', '.join(whisper.CONFIGS)}")
  splits = splits or {"train": int(cfg.data.features.renditions), "validation": 1}
  seed, augment, rec = recipe(cfg)
  layers = whisper.used_layers(whisper.CONFIGS[name], num_layers)
  root = feature_store.folder(ds.info.data_dir, f"{name}_layer{layers}")
  encode = params = None
  out = {}
  for split, count in splits.items():
    source = ds.splits[split]
    digest = feature_store.audio_digest(source)
    for r in range(count):
      want = feature_store.key(weights_sha256=whisper_weights.sha256(name), audio_sha256=digest, rendition=r,
                               recipe=rec)
      if feature_store.has(root, split, r, want):
        continue
      if encode is None:
        encode = _encode_fn(name, num_layers)
        params = jax.device_put(whisper.used_params(whisper_weights.load(name), whisper.CONFIGS[name], num_layers))
      audios = [renditions.audio(source[i], seed=seed, clip=i, r=r, cfg=augment, source=source)
                for i in range(len(source))]
      feats = _compute(encode, params, audios, desc=f"{name} features: {split} rendition {r + 1}/{count}")
      feature_store.write(root, split, r, want, feats)
    out[split] = feature_store.SplitFeatures(root, split, count)
  return out
