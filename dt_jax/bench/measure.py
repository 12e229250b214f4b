"""Measuring benchmark rows: quality on each split from N noise samples per clip (per sample: LVE, EVE, MVE, FDD,
articulation; all N together against the clip's K true alternates), speed (timing.py: frames per second of the
whole generator, and the speed-up over the teacher from interleaved pairs) and size (parameters per component,
stored MB in float32 and bfloat16)."""
from __future__ import annotations

import os
import pathlib
import platform
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.bench import rows as rows_lib
from dt_jax.bench import streaming
from dt_jax.bench import timing
from dt_jax.eval import evaluator
from dt_jax.runs import sampling

COMPONENTS = ("speech_encoder", "audio_encoder", "encoder_projection", "feature_adapter", "personalizer", "denoiser")


def sizes(params) -> dict[str, Any]:
  """Parameters per component and in total; stored MB (2**20 bytes) of the serialized params in fp32 / bf16."""
  count = lambda tree: int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))
  per = {k: count(params[k]) for k in COMPONENTS if k in params}
  stored = {}
  for dtype in ("float32", "bfloat16"):
    cast = jax.tree.map(lambda x: np.asarray(jnp.asarray(x, dtype)), params)   # pylint: disable=cell-var-from-loop
    stored[dtype] = len(flax.serialization.msgpack_serialize(cast)) / 2**20
  return {"params": per, "total_params": count(params), "mb_float32": stored["float32"],
          "mb_bfloat16": stored["bfloat16"]}


def device_name() -> str:
  """What the numbers were measured on: 'NVIDIA H100 80GB HBM3 x1' or 'CPU (<model>, 2 cores)'."""
  d = jax.devices()[0]
  if d.platform == "cpu":
    model = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
      lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
      names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
      model = names[0] if names else model
    return f"CPU ({model}, {os.cpu_count()} cores)"
  return f"{d.device_kind} x{jax.device_count()}"


def measure(row: rows_lib.Row, *, dataset, splits, seeds, batch_size: int, clip_seconds: float, large_batch: int,
            reps: int, device_count: int, generators: timing.Generators | None = None,
            lookaheads: tuple[float, ...] = (0.08, 0.2, 0.5)) -> dict[str, Any]:
  """Everything the benchmark records for one row. `generators`: where the timed calls are compiled and kept (for
  `speedups` to time the same ones); `lookaheads`: the streaming row's, in seconds."""
  out = {"name": row.name, "kind": row.kind, "num_steps": row.num_steps, "device": device_name(),
         "workdir": row.run.workdir if row.run else None, "quality": {}}
  if row.run is not None and row.run.workdir is None:
    out["weights"] = "random"                    # untrained_rows: speed and size only
  predict = (sampling.static_predictor if row.run is None else
             sampling.diffusion_predictor(row.run, num_steps=row.num_steps))
  for split in splits:
    r = evaluator.evaluate(dataset, split, predict, seeds=seeds, batch_size=batch_size)
    out["quality"][split] = {"mean": r["mean"], "std": r["std"], "seeds": list(seeds),
                             **({"distribution": r["distribution"]} if "distribution" in r else {})}
  if row.run is None:
    return out
  out["size"] = sizes(row.run.params)
  out["speed"] = {f"batch_{b}": timing.speed(row.run, num_steps=row.num_steps, batch=b, clip_seconds=clip_seconds,
                                             reps=reps, generators=generators) for b in (1, large_batch)}
  if splits:
    longest = max(range(len(dataset.splits[splits[0]])), key=lambda i: len(dataset.splits[splits[0]][i]["audio"]))
    out["streaming"] = streaming.measure(row.run, example=dataset.splits[splits[0]][longest], lookaheads=lookaheads)
  if device_count > 1:
    out["speed"]["sharded"] = timing.speed(row.run, num_steps=row.num_steps, batch=large_batch,
                                           clip_seconds=clip_seconds, reps=reps,
                                           devices=jax.devices()[:device_count])
  return out


def speedups(rows: list[rows_lib.Row], results: list[dict], *, clip_seconds: float, large_batch: int,
             pairs: int, large_batch_pairs: int | None = None, generators: timing.Generators | None = None) -> None:
  """Each timed row's speed-up over the teacher at batch 1 and at the large batch, from `pairs` (at the large batch
  `large_batch_pairs`, default `pairs`) interleaved (teacher, row) timings on the same inputs (timing.interleaved),
  into results[i]['speedup'] (in place; rows that already have one keep it). `generators`: compiled calls to reuse
  (those `measure` timed)."""
  teacher = next((row for row in rows if row.kind == "teacher"), None)
  todo = [(row, r) for row, r in zip(rows, results) if row.run is not None and row is not teacher]
  if teacher is None or not todo:
    return
  generators = generators or timing.Generators(clip_seconds=clip_seconds)
  for batch, n in ((1, pairs), (large_batch, large_batch_pairs or pairs)):
    key = f"batch_{batch}"
    pending = [(row, r) for row, r in todo if key not in r.get("speedup", {})]
    if not pending:
      continue
    base, _, _ = generators.get(teacher.run, num_steps=teacher.num_steps, batch=batch)
    for row, r in pending:
      call, _, _ = generators.get(row.run, num_steps=row.num_steps, batch=batch)
      r.setdefault("speedup", {})[key] = timing.interleaved(base, call, pairs=n)
  for r in results:
    if r["kind"] == "teacher":
      r["speedup"] = {f"batch_{b}": {"median": 1.0} for b in (1, large_batch)}
