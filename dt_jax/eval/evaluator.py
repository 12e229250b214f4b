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

from dt_jax import timebase
from dt_jax.data import pipeline
from dt_jax.eval import articulation
from dt_jax.eval import distribution
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


def _frame_weighted(sums: list[np.ndarray], frames: list[np.ndarray]) -> float:
  return float(np.sum(np.concatenate(sums)) / max(np.sum(np.concatenate(frames)), 1.0))


class _Distribution:
  """Pools the per-clip scores of distribution.py over a split's valid clips."""

  def __init__(self):
    self.rows: dict[str, list[np.ndarray]] = {}

  def add(self, stats: dict, valid) -> None:
    keep = np.asarray(valid) > 0
    for k, v in jax.device_get(stats).items():
      self.rows.setdefault(k, []).append(np.asarray(v)[keep])

  def result(self) -> dict:
    r = {k: np.concatenate(v) for k, v in self.rows.items()}
    out = {}
    for region in ("lips", "upper_face"):
      out[f"{region}_diversity_ratio"] = float(r[f"{region}_div_model"].sum() / max(r[f"{region}_div_truth"].sum(),
                                                                                    1e-20))
      for key in ("energy", "energy_floor", "energy_static"):
        out[f"{region}_{key}_mm"] = float(r[f"{region}_{key}"].mean() * 1e3)
    for key in ("lve", "eve"):
      frames = [r["frames"]]
      out[f"best_{key}"] = _frame_weighted([r[f"best_{key}_sum"]], frames) / metrics.PAPER_SCALES[key]
      out[f"mean_sample_{key}"] = _frame_weighted([r[f"mean_{key}_sum"]], frames) / metrics.PAPER_SCALES[key]
    out["probtalk_diversity_mm"] = float(r["probtalk_diversity"].mean() * 1e3)
    out["truth_probtalk_diversity_mm"] = float(r["truth_probtalk_diversity"].mean() * 1e3)
    return out


def _distribution_fn(space: metrics.Space):
  """Jitted per-batch scores of N samples [B, N, T, V, C] against K alternates [B, K, T, V, C]."""
  regions = {"lips": space.regions.lips, "upper_face": space.regions.upper_face}

  @jax.jit
  def fn(samples, alternates, template, mask):
    out = {"frames": jnp.sum(mask, -1)}
    for name, idx in regions.items():
      for k, v in distribution.region_stats(samples, alternates, template=template, mask=mask, idx=idx).items():
        out[f"{name}_{k}"] = v
    out.update(distribution.best_and_mean(samples, alternates[:, 0], mask=mask, regions=space.regions))
    truth = distribution.best_and_mean(alternates, alternates[:, 0], mask=mask, regions=space.regions)
    out["truth_probtalk_diversity"] = truth["probtalk_diversity"]
    return out
  return fn


def _lip_pair_openings(points, template, lip_pair) -> np.ndarray:
  """[B, T] lip openings from points [B, T, V, 3] and templates [B, V, 3]."""
  pts, neutral = np.asarray(points[:, :, list(lip_pair)]), np.asarray(template[:, list(lip_pair)])
  return np.stack([articulation.lip_opening(p, n) for p, n in zip(pts, neutral)])


def _add_articulation(acc: articulation.Accumulator, batch, model, truth) -> None:
  """Every valid clip of a batch: openings [B, T] of the model and the truth."""
  for j, phones in enumerate(batch["phones"]):
    if batch["valid"][j] > 0:
      t = int(batch["mask"][j].sum())
      acc.add(model=model[j, :t], truth=truth[j, :t], audio=batch["audio"][j, :timebase.samples_for(t)],
              phones=phones)


def evaluate(ds, split: str, predict, *, seeds=(0,), batch_size: int = 16) -> dict:
  """{'space', 'per_seed': [...], 'mean': {...}, 'std': {...}[, 'distribution': {...}]} on a split.

  Per seed: LVE / EVE / MVE / FDD / |FDD| (paper units) and, where the clips have phones and the rig a lip pair,
  the articulation metrics. With several seeds and clips that carry alternates, the seeds' samples are also scored
  together against the alternates (distribution.py)."""
  space = metrics.space_for(ds.rig, motion_dim=ds.motion_dim)
  stats_fn = jax.jit(lambda p, g, t, m: metrics.sequence_stats(p, g, template=t, mask=m, regions=space.regions))
  batches = list(pipeline.eval_batches(ds.splits[split], batch_size=batch_size, split=split))
  seeds = tuple(seeds)
  accs = [metrics.Accumulator() for _ in seeds]
  lip_pair = ds.rig.lip_pair if space.name == "vertices" and ds.rig is not None else None
  arts = [articulation.Accumulator() for _ in seeds] if lip_pair and "phones" in batches[0] else None
  dist = _Distribution() if len(seeds) > 1 and "alternates" in batches[0] else None
  dist_fn = _distribution_fn(space) if dist else None
  for batch in tqdm.tqdm(batches, desc=f"eval {split} ({len(seeds)} seeds)", unit="batch", leave=False):
    g, template = _points(jnp.asarray(batch["motion"]), batch["speaker"], ds, space)
    mask = jnp.asarray(batch["mask"])
    truth_open = _lip_pair_openings(g, template, lip_pair) if arts else None
    samples = []
    for s, seed in enumerate(seeds):
      p, _ = _points(predict(batch, seed), batch["speaker"], ds, space)
      accs[s].add(stats_fn(p, g, template, mask), valid=batch["valid"])
      if arts:
        _add_articulation(arts[s], batch, _lip_pair_openings(p, template, lip_pair), truth_open)
      if dist:
        samples.append(p)
    if dist:
      alternates = jnp.stack([_points(jnp.asarray(batch["alternates"][:, k]), batch["speaker"], ds, space)[0]
                              for k in range(batch["alternates"].shape[1])], 1)
      dist.add(dist_fn(jnp.stack(samples, 1), alternates, template, mask), batch["valid"])
  per_seed = [{**metrics.in_paper_units(acc.result()), **(arts[s].result() if arts else {})}
              for s, acc in enumerate(accs)]
  keys = [k for k, v in per_seed[0].items() if isinstance(v, float)]
  out = {"space": metrics.describe(space), "split": split, "per_seed": per_seed,
         "mean": {k: float(np.mean([r[k] for r in per_seed])) for k in keys},
         "std": {k: float(np.std([r[k] for r in per_seed])) for k in keys}}
  if dist:
    out["distribution"] = dist.result()
  return out


def table(rows: dict) -> str:
  """Markdown tables, one row per name of {name: evaluate(...) result}: LVE, EVE, MVE, FDD; the articulation metrics
  where measured; the scores against the true distribution where measured."""
  lines = ["| model | LVE (x1e-5) | EVE (x1e-5) | MVE (x1e-5) | FDD (x1e-7) | abs FDD |", "|---|---|---|---|---|---|"]
  for name, r in rows.items():
    m, s = r["mean"], r["std"]
    lines.append(f"| {name} | {m['lve']:.3f} ± {s['lve']:.3f} | {m['eve']:.3f} ± {s['eve']:.3f} | "
                 f"{m['mve']:.3f} | {m['fdd']:.3f} | {m['abs_fdd']:.3f} |")
  art = {n: r["mean"] for n, r in rows.items() if "contrast_ratio" in r["mean"]}
  if art:
    lines += ["", "| model | lip opening (mm) vowels / p,b,m / pauses | truth | contrast vs truth | "
              "loudness corr. (truth) | vs truth |", "|---|---|---|---|---|---|"]
    for name, m in art.items():
      lines.append(f"| {name} | {m['model_vowel_mm']:.2f} / {m['model_bilabial_mm']:.2f} / {m['model_pause_mm']:.2f} "
                   f"| {m['truth_vowel_mm']:.2f} / {m['truth_bilabial_mm']:.2f} / {m['truth_pause_mm']:.2f} | "
                   f"{m['contrast_ratio']:.2f} | {m['model_loudness_corr']:.2f} ({m['truth_loudness_corr']:.2f}) | "
                   f"{m['loudness_ratio']:.2f} |")
  dist = {n: r["distribution"] for n, r in rows.items() if "distribution" in r}
  if dist:
    lines += ["", "| model | diversity lips / upper (truth 1) | energy lips (floor, static) | energy upper (floor, "
              "static) | best-of-N LVE / EVE |", "|---|---|---|---|---|"]
    for name, d in dist.items():
      lines.append(f"| {name} | {d['lips_diversity_ratio']:.2f} / {d['upper_face_diversity_ratio']:.2f} | "
                   f"{d['lips_energy_mm']:.3f} ({d['lips_energy_floor_mm']:.3f}, {d['lips_energy_static_mm']:.3f}) | "
                   f"{d['upper_face_energy_mm']:.3f} ({d['upper_face_energy_floor_mm']:.3f}, "
                   f"{d['upper_face_energy_static_mm']:.3f}) | {d['best_lve']:.3f} / {d['best_eve']:.3f} |")
  return "\n".join(lines)
