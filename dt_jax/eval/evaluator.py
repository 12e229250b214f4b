"""Evaluating a trained model (or a baseline) on a whole split: sample every sequence uncropped, then metrics.

Samples are drawn with DDIM from fixed-seed noise (one compiled sampler per step count); each seed is scored
separately and the report gives the mean and spread over seeds.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from dt_jax.data import normalization
from dt_jax.data import pipeline
from dt_jax.data import source
from dt_jax.diffusion import samplers
from dt_jax.eval import metrics
from dt_jax.models import talker
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import loop


def distill_rounds(path: str) -> dict[int, str]:
  """{step count: round directory} of a distill workdir's rounds that hold a config.json, most steps first."""
  names = os.listdir(path) if os.path.isdir(path) else []
  found = {int(n.split("_")[1]): os.path.join(path, n) for n in names
           if n.startswith("steps_") and n.split("_")[1].isdigit() and os.path.exists(os.path.join(path, n,
                                                                                                   "config.json"))}
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


@dataclasses.dataclass(frozen=True)
class Run:
  """What sampling from a trained run needs."""
  cfg: ml_collections.ConfigDict
  dataset: source.Dataset
  model: talker.Talker
  params: Any                      # the EMA parameters of a teacher; the student's of a distillation round
  stats: normalization.MotionStats
  workdir: str


def load_run(workdir: str, *, data_dir: str | None = None) -> Run:
  """The latest checkpoint of a teacher workdir, a distillation round, or a distill workdir (see resolve_run)."""
  workdir = resolve_run(workdir)
  path = os.path.join(workdir, "config.json")
  cfg = ml_collections.ConfigDict(json.load(open(path)))
  if data_dir:
    cfg.data.data_dir = data_dir
  ds = source.open_dataset(cfg.data.name, data_dir=cfg.data.data_dir)
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  if ckpt.latest_step() is None:
    raise FileNotFoundError(f"{workdir}/checkpoints holds no checkpoint")
  restored = ckpt.restore_local()
  ckpt.close()
  params = restored["ema_params"] if "ema_params" in restored else restored["params"]
  return Run(cfg=cfg, dataset=ds, model=loop.model_from_config(cfg, ds), params=params,
             stats=normalization.load(workdir), workdir=workdir)


def sample_fn(model: talker.Talker, *, num_steps: int, stats: normalization.MotionStats, unroll: bool = False):
  """The whole jitted generator: (params, audio [B, S], mask [B, T], z_init [B, T, D]) -> motion [B, T, D] in data
  units; audio encoding once, then `num_steps` DDIM steps (`unroll`: written out, for exporters). An optional
  fifth argument {'identity' / 'emotion': [B, d]} overrides the personal embeddings (see Personalizer)."""
  @jax.jit
  def run(params, audio, mask, z_init, embeddings=None):
    feats, personal, _ = model.apply({"params": params}, audio, mask, embeddings=embeddings,
                                     method=talker.Talker.encode)
    denoise = lambda z, logsnr: model.apply({"params": params}, z, logsnr, feats, personal, mask,
                                            method=talker.Talker.denoise)
    x = samplers.sample(denoise, z_init=z_init, num_steps=num_steps, unroll=unroll)
    return normalization.denormalize(x, stats)
  return run


def diffusion_predictor(model: talker.Talker, params, *, num_steps: int, stats: normalization.MotionStats):
  """predict(batch, seed) -> motion [B, T, D] (data units) sampled in `num_steps` DDIM steps."""
  run = sample_fn(model, num_steps=num_steps, stats=stats)

  def predict(batch, seed):
    z = jax.random.normal(jax.random.PRNGKey(seed), batch["motion"].shape)
    return run(params, batch["audio"], batch["mask"], z)
  return predict


def static_predictor(batch, seed):
  """The neutral face (zero weights / zero offsets): the floor every model must beat."""
  del seed
  return jnp.zeros_like(batch["motion"])


def _points(motion, speaker, ds, space):
  """Motion [B, T, D] -> (points [B, T, V, C], template [B, V, C]) in the metric space."""
  if space.name == "coefficients":
    return metrics.coefficient_points(motion), jnp.zeros(motion.shape[:1] + motion.shape[2:] + (1,))
  rig = ds.rig
  rows = np.array([rig.speaker_index(int(s)) for s in speaker])
  template = jnp.asarray(rig.templates[rows])
  if rig.basis is not None:
    return metrics.blendshapes_to_vertices(motion, template=template, basis=jnp.asarray(rig.basis[rows])), template
  return template[:, None] + motion.reshape(motion.shape[:2] + (-1, 3)), template


def evaluate(ds, split: str, predict, *, seeds=(0,), batch_size: int = 16) -> dict:
  """{'space', 'per_seed': [...], 'mean': {...}, 'std': {...}} of LVE/EVE/MVE/FDD (paper units) on a split."""
  space = metrics.space_for(ds.rig, motion_dim=ds.motion_dim)
  stats_fn = jax.jit(lambda p, g, t, m: metrics.sequence_stats(p, g, template=t, mask=m, regions=space.regions))
  batches = list(pipeline.eval_batches(ds.splits[split], batch_size=batch_size, split=split))
  per_seed = []
  for seed in seeds:
    acc = metrics.Accumulator()
    for batch in tqdm.tqdm(batches, desc=f"eval {split} seed {seed}", unit="batch", leave=False):
      pred = predict(batch, seed)
      p, template = _points(pred, batch["speaker"], ds, space)
      g, _ = _points(jnp.asarray(batch["motion"]), batch["speaker"], ds, space)
      acc.add(stats_fn(p, g, template, jnp.asarray(batch["mask"])), valid=batch["valid"])
    per_seed.append(metrics.in_paper_units(acc.result()))
  keys = ("lve", "eve", "mve", "fdd", "abs_fdd")
  return {"space": metrics.describe(space), "split": split, "per_seed": per_seed,
          "mean": {k: float(np.mean([r[k] for r in per_seed])) for k in keys},
          "std": {k: float(np.std([r[k] for r in per_seed])) for k in keys}}


def table(rows: dict) -> str:
  """Markdown table: one row per name of {name: evaluate(...) result}."""
  lines = ["| model | LVE (x1e-5) | EVE (x1e-5) | MVE (x1e-5) | FDD (x1e-7) | abs FDD |", "|---|---|---|---|---|---|"]
  for name, r in rows.items():
    m, s = r["mean"], r["std"]
    lines.append(f"| {name} | {m['lve']:.3f} ± {s['lve']:.3f} | {m['eve']:.3f} ± {s['eve']:.3f} | "
                 f"{m['mve']:.3f} | {m['fdd']:.3f} | {m['abs_fdd']:.3f} |")
  return "\n".join(lines)


def sample_clip(run: Run, example: dict, *, num_steps: int | None = None, seed: int = 0) -> np.ndarray:
  """One dataset example's audio -> motion [T, D] (data units), T = the example's frame count."""
  frames = len(example["motion"])
  fn = sample_fn(run.model, num_steps=num_steps or run.cfg.diffusion.num_steps, stats=run.stats)
  z = jax.random.normal(jax.random.PRNGKey(seed), (1, frames, run.dataset.motion_dim))
  audio = jnp.asarray(example["audio"], jnp.float32)[None]
  return np.asarray(fn(run.params, audio, jnp.ones((1, frames)), z)[0])
