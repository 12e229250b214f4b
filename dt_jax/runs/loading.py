"""Finding and loading trained runs: a teacher workdir, a distillation round, or a distill workdir (its last round).

A run directory holds `config.json` (the full config it was trained with), `motion_stats.npz` and orbax
`checkpoints/`. Configs saved by older versions of dt_jax are brought up to date in one place (`upgrade_config`),
so the rest of the code reads every key directly. A run whose teacher hears speech through a frozen pretrained
encoder gets that encoder's verified weights added to its parameters here (`speech_encoder`): checkpoints never
hold them, every sampler needs them.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any

from absl import logging
import ml_collections
import numpy as np

from dt_jax.data import normalization
from dt_jax.data import source
from dt_jax.face import arkit
from dt_jax.models import talker
from dt_jax.models import whisper
from dt_jax.models import whisper_weights
from dt_jax.train import checkpoint as ckpt_lib

# Keys added after runs were first saved, with the value that reproduces what those runs did.
_ADDED_KEYS = (("model", "feature_width", 0), ("train", "w_velocity", 0.0), ("train", "freeze_feature_extractor", False),
               ("train", "freeze_encoder_layers", 0), ("model", "audio_encoder_init", ""),
               ("data", "augment", {"enabled": False}), ("distill", "ema_decay", 0.95),
               ("diffusion", "guidance", 1.0), ("train", "cond_drop", 0.0), ("distill", "teacher_guidance", 0.0),
               ("model", "speech_encoder", ""), ("model", "speech_layers", 0), ("model", "adapter_width", 0),
               ("diffusion", "clip_x0", False), ("distill", "guidance_steps", 0), ("distill", "stage_steps", 0),
               ("distill", "teacher_checkpoint", ""), ("train", "init_from", ""))


def upgrade_config(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A saved config with every key the current code reads (missing ones get the value older runs used)."""
  cfg = ml_collections.ConfigDict(cfg.to_dict())
  for block, key, value in _ADDED_KEYS:
    if block in cfg and key not in cfg[block]:
      cfg[block][key] = value
  if "distill" in cfg and "teacher_realpath" not in cfg.distill:   # relative to where that run was launched
    cfg.distill.teacher_realpath = os.path.realpath(cfg.distill.teacher)
  return cfg


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The upgraded config.json of a run directory."""
  path = pathlib.Path(workdir) / "config.json"
  return upgrade_config(ml_collections.ConfigDict(json.loads(path.read_text())))


def distill_rounds(path: str) -> dict[int, str]:
  """{step count: round directory} of a distill workdir's rounds that hold a config.json, most steps first."""
  names = os.listdir(path) if os.path.isdir(path) else []
  found = {int(n.split("_")[1]): os.path.join(path, n) for n in names
           if n.startswith("steps_") and n.split("_")[1].isdigit()
           and os.path.exists(os.path.join(path, n, "config.json"))}
  return dict(sorted(found.items(), reverse=True))


def resolve_run(path: str) -> str:
  """A run directory (holding config.json): `path` itself, or for a distill workdir its finished round with the
  fewest steps (`<workdir>/steps_2` after 16 -> 2)."""
  if os.path.exists(os.path.join(path, "config.json")):
    return path
  rounds = distill_rounds(path)
  if not rounds:
    raise FileNotFoundError(f"{path} has no config.json and no steps_N rounds: not a training or distill workdir")
  return rounds[min(rounds)]


class UnfinishedRunError(ValueError):
  """A run whose newest checkpoint is before the step count it was configured for (stopped, or still running)."""


def total_steps(cfg) -> int:
  """The optimizer steps a run is configured for: a teacher's train.steps, a distillation stage's
  distill.stage_steps (0: unknown, a stage saved before stages recorded it)."""
  return int(cfg.distill.stage_steps) if "distill" in cfg else int(cfg.train.steps)


def model_for(cfg, ds: source.Dataset) -> talker.Talker:
  """The talker of a run's config on its dataset."""
  return talker.from_config(cfg.model, motion_dim=ds.motion_dim, num_speakers=len(ds.speakers),
                            num_emotions=len(ds.emotions))


@dataclasses.dataclass(frozen=True)
class Run:
  """What sampling from a trained run needs."""
  cfg: ml_collections.ConfigDict
  dataset: source.Dataset
  model: talker.Talker
  params: Any                      # the EMA parameters of a teacher; the student's of a distillation round
  stats: normalization.MotionStats
  workdir: str | None              # None: built from a config with random weights (speed and size only)
  checkpoint: str = ""             # '<step>:<digest>' of the checkpoint loaded (Checkpointer.fingerprint)
  compiled: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)   # runs/sampling.py's cache

  @property
  def num_steps(self) -> int:
    return int(self.cfg.diffusion.num_steps)

  @property
  def guidance(self) -> float:
    """The classifier-free guidance weight w its sampler uses (1: none; distilled students have it built in)."""
    return float(self.cfg.diffusion.guidance)

  @property
  def data_range(self):
    """(lo [D], hi [D]) in data units that the sampler keeps every x prediction in (blendshape weights: [0, 1]),
    or None (vertex offsets, or a run trained before clipping existed)."""
    return data_range(self.dataset.motion_dim) if self.cfg.diffusion.clip_x0 else None

  @property
  def sampler(self) -> str:
    """'consistency' for a consistency-distilled student (multistep consistency sampling), else 'ddim'."""
    return "consistency" if self.cfg.get("distill", {}).get("target") == "consistency" else "ddim"

  @property
  def branches(self) -> tuple[str, ...]:
    """The personalizer branches the model has ('identity', 'emotion')."""
    pcfg = self.model.cfg.personalizer
    return tuple(n for n, on in (("identity", pcfg.use_identity), ("emotion", pcfg.use_emotion)) if on)


def data_range(motion_dim: int):
  """(lo [D], hi [D]) of the data's range in data units: ARKit weights lie in [0, 1]; None for vertex offsets."""
  if motion_dim != arkit.NUM:
    return None
  lo, hi = arkit.WEIGHT_RANGE
  return np.full(motion_dim, lo, np.float32), np.full(motion_dim, hi, np.float32)


def model_range(bounds, stats: normalization.MotionStats):
  """A data-unit range (lo [D], hi [D]) in model units (None stays None)."""
  if bounds is None:
    return None
  return tuple(normalization.normalize(b, stats).astype(np.float32) for b in bounds)


def with_speech_encoder(model_cfg, params) -> dict:
  """`params` with the frozen pretrained encoder's weights added where the model has one (verified by hash)."""
  if not model_cfg.speech_encoder:
    return params
  name = model_cfg.speech_encoder
  return {**params, "speech_encoder": whisper.used_params(whisper_weights.load(name), whisper.CONFIGS[name],
                                                          model_cfg.speech_layers)}


def load_run(workdir: str, *, data_dir: str | None = None, allow_unfinished: bool = False) -> Run:
  """The latest checkpoint of a teacher workdir, a distillation round, or a distill workdir (see resolve_run).
  A run that stopped before its configured step count raises UnfinishedRunError, unless `allow_unfinished` (then
  a warning says how far it got)."""
  workdir = resolve_run(workdir)
  cfg = read_config(workdir)
  if data_dir:
    cfg.data.data_dir = data_dir
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    if ckpt.latest_step() is None:
      raise FileNotFoundError(f"{workdir}/checkpoints holds no checkpoint")
    total = total_steps(cfg)
    if total and ckpt.latest_step() < total:
      say = (f"{workdir} is unfinished: its newest checkpoint is step {ckpt.latest_step()} of {total} (stopped, or "
             f"still running)")
      if not allow_unfinished:
        raise UnfinishedRunError(f"{say}; run its command again to finish it, or pass --allow_unfinished to use it "
                                 f"as it is")
      logging.warning("%s; used as it is (--allow_unfinished)", say)
    ds = source.open_dataset(cfg.data.name, data_dir=cfg.data.data_dir)
    restored = ckpt.restore_local()
    fingerprint = ckpt.fingerprint(int(restored["step"]))
  finally:
    ckpt.close()
  params = with_speech_encoder(cfg.model, restored["ema_params"] if "ema_params" in restored else restored["params"])
  return Run(cfg=cfg, dataset=ds, model=model_for(cfg, ds), params=params, stats=normalization.load(workdir),
             workdir=workdir, checkpoint=fingerprint)
