"""Shared config blocks: argument parsing, datasets and model scales (tiny for tests, small for CPU, paper)."""
from __future__ import annotations

import ml_collections

DATASETS = {   # dataset arg -> ({scale: TFDS name where it differs}, default TFDS name)
    "synthetic_talkers": ({"tiny": "synthetic_talkers/tiny"}, "synthetic_talkers"),
    "vocaset": ({}, "vocaset/original"),
    "etf3d": ({}, "etf3d"),
}
SCALES = ("tiny", "small", "paper")


def parse(arg: str | None, **defaults) -> dict:
  """'a=1,b=x' -> {'a': '1', 'b': 'x'} over `defaults`; unknown keys are an error naming the allowed ones."""
  out = dict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown config arg {key!r}; allowed: {', '.join(defaults)}")
    out[key] = value
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
      global_batch={"tiny": 4, "small": 16, "paper": 64}[scale]))


def encoder(scale: str, *, student: bool = False) -> ml_collections.ConfigDict:
  """Audio encoder blocks. Teacher `paper` = HuBERT/wav2vec2-base (12 x 768); the student is small at every scale."""
  if scale not in SCALES:
    raise ValueError(f"unknown scale {scale!r}; one of {', '.join(SCALES)}")
  if scale == "paper" and not student:
    return ml_collections.ConfigDict(dict(conv_channels=(512,) * 7, width=768, layers=12, heads=12,
                                          pos_conv_kernel=128, pos_conv_groups=16, norm_first=False, dropout=0.1))
  width = {"tiny": 16, "small": 64, "paper": 256}[scale] // (2 if student else 1)
  conv = {"tiny": 16, "small": 64, "paper": 256}[scale] // (2 if student else 1)
  return ml_collections.ConfigDict(dict(conv_channels=(conv,) * 7, width=width,
                                        layers={"tiny": 1, "small": 2, "paper": 3}[scale] if not student else 1,
                                        heads=2 if scale == "tiny" else 4, pos_conv_kernel=16, pos_conv_groups=4,
                                        norm_first=True, dropout=0.0 if scale == "tiny" else 0.1,
                                        conv_norm="layer", conv_bias=True, normalize_waveform=True))


def model(scale: str) -> ml_collections.ConfigDict:
  width = {"tiny": 32, "small": 128, "paper": 384}[scale]
  return ml_collections.ConfigDict(dict(
      encoder=encoder(scale),
      personalizer=dict(width=width, heads=2 if scale == "tiny" else 4, temperature=0.1, use_identity=True,
                        use_emotion=True),
      denoiser=dict(width=width, layers={"tiny": 2, "small": 3, "paper": 6}[scale],
                    heads=2 if scale == "tiny" else 4, dropout=0.0 if scale == "tiny" else 0.1)))
