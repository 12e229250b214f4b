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

COMPONENTS = ("audio_encoder", "encoder_projection", "personalizer", "denoiser")


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
            reps: int, device_count: int) -> dict[str, Any]:
  """Everything the benchmark records for one row."""
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
                                             reps=reps) for b in (1, large_batch)}
  if splits:
    longest = max(range(len(dataset.splits[splits[0]])), key=lambda i: len(dataset.splits[splits[0]][i]["audio"]))
    out["streaming"] = streaming.measure(row.run, example=dataset.splits[splits[0]][longest])
  if device_count > 1:
    out["speed"]["sharded"] = timing.speed(row.run, num_steps=row.num_steps, batch=large_batch,
                                           clip_seconds=clip_seconds, reps=reps,
                                           devices=jax.devices()[:device_count])
  return out


def speedups(rows: list[rows_lib.Row], results: list[dict], *, clip_seconds: float, large_batch: int,
             pairs: int) -> None:
  """Each timed row's speed-up over the teacher at batch 1 and at the large batch, from `pairs` interleaved
  (teacher, row) timings on the same inputs (timing.interleaved), into results[i]['speedup'] (in place; rows that
  already have one keep it)."""
  teacher = next((row for row in rows if row.kind == "teacher"), None)
  todo = [(row, r) for row, r in zip(rows, results) if row.run is not None and row is not teacher]
  if teacher is None or not todo:
    return
  for batch in (1, large_batch):
    key = f"batch_{batch}"
    pending = [(row, r) for row, r in todo if key not in r.get("speedup", {})]
    if not pending:
      continue
    base, _, _ = timing.generator(teacher.run, num_steps=teacher.num_steps, batch=batch, clip_seconds=clip_seconds)
    for row, r in pending:
      call, _, _ = timing.generator(row.run, num_steps=row.num_steps, batch=batch, clip_seconds=clip_seconds)
      r.setdefault("speedup", {})[key] = timing.interleaved(base, call, pairs=pairs)
  for r in results:
    if r["kind"] == "teacher":
      r["speedup"] = {f"batch_{b}": {"median": 1.0} for b in (1, large_batch)}
