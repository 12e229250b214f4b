"""Shared config blocks: argument parsing, datasets and model scales (tiny for tests, small for CPU, paper)."""
from __future__ import annotations

import dataclasses

import ml_collections

from dt_jax.data import augment as augment_lib
from dt_jax.models import audio_encoder

DATASETS = {   # dataset arg -> ({scale: TFDS name where it differs}, default TFDS name)
    "synthetic_talkers": ({"tiny": "synthetic_talkers/tiny"}, "synthetic_talkers"),
    "vocaset": ({}, "vocaset/original"),
    "etf3d": ({}, "etf3d"),
    "livelink_face": ({}, "livelink_face"),
}
SCALES = ("tiny", "small", "paper")


CHOICES = {"dataset": tuple(DATASETS), "scale": SCALES}


def parse(arg: str | None, **defaults) -> dict:
  """'a=1,b=x' -> {'a': '1', 'b': 'x'} over `defaults`; unknown keys, and values of `dataset` and `scale` that do not
  exist, are an error naming the allowed ones."""
  out = dict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown config arg {key!r}; allowed: {', '.join(defaults)}")
    out[key] = value
  for key, allowed in CHOICES.items():
    if key in out and out[key] not in allowed:
      raise ValueError(f"unknown {key} {out[key]!r}; one of {', '.join(allowed)}")
  return out


def dataset_name(dataset: str, scale: str) -> str:
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
  per_scale, default = DATASETS[dataset]
  return per_scale.get(scale, default)


def data(args: dict) -> ml_collections.ConfigDict:
  scale = args["scale"]
  return ml_collections.ConfigDict(dict(
      name=dataset_name(args["dataset"], scale), data_dir="data", manual_dir="",
      window_frames={"tiny": 30, "small": 60, "paper": 120}[scale],
      # small: 8, so that the demo's 2000 teacher steps fit its 30 minutes on 2 CPU cores (docs/findings.md).
      global_batch={"tiny": 4, "small": 8, "paper": 64}[scale],
      # Acoustic variety in training windows (dt_jax/data/augment.py), so models hear more than the corpus's
      # recording conditions; evaluation never augments (--config.data.augment.enabled=False turns it off).
      augment=dict(enabled=True, **dataclasses.asdict(augment_lib.AugmentConfig()))))


def encoder(scale: str, *, student: bool = False) -> ml_collections.ConfigDict:
  """Audio encoder blocks on the raw waveform. The teacher's (`audio_encoder=scratch`) is wav2vec2-shaped (seven
  convs, 320x down to 50 Hz; `paper` = HuBERT/wav2vec2-base, 12 x 768). The student's is small at every scale:
  Whisper's log-mel frontend, three convs over the mel frames (100 -> 25 Hz) and a few transformer layers, so that
  it can imitate a Whisper teacher's features (L_ae) while its per-clip cost stays a small share of the teacher's:
  a 2-step student runs 8x faster than a 16-step teacher at batch 1 only if E_t >= 8 E_s
  ((E_t + 16 D) / (E_s + 2 D); docs/findings.md has the measurements)."""
  if scale not in SCALES:
    raise ValueError(f"unknown scale {scale!r}; one of {', '.join(SCALES)}")
  wav2vec2 = dict(conv_kernels=audio_encoder.EncoderConfig.conv_kernels,      # the dataclass's defaults
                  conv_strides=audio_encoder.EncoderConfig.conv_strides)
  if scale == "paper" and not student:
    return ml_collections.ConfigDict(dict(conv_channels=(512,) * 7, **wav2vec2, width=768, layers=12, heads=12,
                                          pos_conv_kernel=128, pos_conv_groups=16, norm_first=False, dropout=0.1))
  if student:
    width = {"tiny": 16, "small": 144, "paper": 256}[scale]
    return ml_collections.ConfigDict(dict(
        frontend="mel", conv_channels=(width,) * 3, conv_kernels=(3, 3, 3), conv_strides=(1, 2, 2), width=width,
        layers={"tiny": 1, "small": 3, "paper": 2}[scale], heads=2 if scale == "tiny" else 4, pos_conv_kernel=16,
        pos_conv_groups=4, norm_first=True, dropout=0.0, conv_norm="layer", conv_bias=True,
        normalize_waveform=False))
  width = {"tiny": 16, "small": 64, "paper": 256}[scale]
  return ml_collections.ConfigDict(dict(conv_channels=(width,) * 7, **wav2vec2, width=width,
                                        layers={"tiny": 1, "small": 2, "paper": 3}[scale],
                                        heads=2 if scale == "tiny" else 4, pos_conv_kernel=16, pos_conv_groups=4,
                                        norm_first=True, dropout=0.1 if scale == "paper" else 0.0, conv_norm="layer",
                                        conv_bias=True, normalize_waveform=True))


def model(scale: str) -> ml_collections.ConfigDict:
  """Personalizer and denoiser shapes (the encoder is `encoder`). No dropout below `paper`: the CPU-sized teacher
  underfits its 2000 steps, and dropout made it worse (docs/findings.md)."""
  width = {"tiny": 32, "small": 128, "paper": 384}[scale]
  return ml_collections.ConfigDict(dict(
      encoder=encoder(scale), feature_width=0, speech_encoder="", speech_layers=0, adapter_width=0,
      personalizer=dict(width=width, heads=2 if scale == "tiny" else 4, temperature=0.1, use_identity=True,
                        use_emotion=True),
      denoiser=dict(width=width, layers={"tiny": 2, "small": 3, "paper": 6}[scale],
                    heads=2 if scale == "tiny" else 4, dropout=0.1 if scale == "paper" else 0.0, noise_gate=False)))
