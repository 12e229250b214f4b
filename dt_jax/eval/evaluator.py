"""Evaluating a predictor (a trained run's sampler, or a baseline) on a whole split: every sequence uncropped, then
metrics.

`predict(batch, seed)` draws one motion per sequence (dt_jax.runs.sampling: DDIM from fixed-seed noise); each
seed is scored separately and the report gives the mean and spread over seeds.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from dt_jax.data import pipeline
from dt_jax.eval import metrics


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
