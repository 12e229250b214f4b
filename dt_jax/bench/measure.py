"""Measuring one benchmark row: quality on each split over noise seeds, speed (frames per second of the whole
generator on a fixed clip, audio encoding included, after warm-up, `block_until_ready`, compile time apart,
optionally sharded over devices) and size (parameters per component, stored MB in float32 and bfloat16)."""
from __future__ import annotations

import os
import pathlib
import platform
import time
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dt_jax import timebase
from dt_jax.bench import rows as rows_lib
from dt_jax.eval import evaluator
from dt_jax.runs import loading
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


def speed(run: loading.Run, *, num_steps: int, batch: int, clip_seconds: float, reps: int,
          devices=None) -> dict[str, Any]:
  """Frames per second of the whole generator (audio in, motion out) on a fixed clip; compile time apart.
  `devices`: shard the batch over these devices (a `data` mesh axis) instead of running on the default one."""
  fn = sampling.sample_fn(run.model, num_steps=num_steps, stats=run.stats)
  frames = int(round(clip_seconds * timebase.FPS))
  rng = np.random.default_rng(0)
  audio = (0.1 * rng.standard_normal((batch, timebase.samples_for(frames)))).astype(np.float32)
  args = [run.params, audio, np.ones((batch, frames), np.float32),
          rng.standard_normal((batch, frames, run.dataset.motion_dim)).astype(np.float32)]
  if devices is not None:
    if batch % len(devices):
      raise ValueError(f"batch {batch} does not divide over {len(devices)} devices")
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    args = [jax.device_put(args[0], NamedSharding(mesh, P()))] + \
           [jax.device_put(a, NamedSharding(mesh, P("data"))) for a in args[1:]]
  else:
    args = [jax.device_put(a) for a in args]
  t0 = time.perf_counter()
  compiled = fn.lower(*args).compile()
  compile_s = time.perf_counter() - t0
  compiled(*args).block_until_ready()                        # warm-up
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    compiled(*args).block_until_ready()
    times.append(time.perf_counter() - t0)
  seconds = float(np.median(times))
  return {"batch": batch, "frames": frames, "clip_seconds": clip_seconds, "compile_s": compile_s,
          "seconds": seconds, "fps": batch * frames / seconds, "reps": reps,
          "devices": 1 if devices is None else len(devices)}


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
    out["quality"][split] = {"mean": r["mean"], "std": r["std"], "seeds": list(seeds)}
  if row.run is None:
    return out
  out["size"] = sizes(row.run.params)
  out["speed"] = {f"batch_{b}": speed(row.run, num_steps=row.num_steps, batch=b, clip_seconds=clip_seconds,
                                      reps=reps) for b in (1, large_batch)}
  if device_count > 1:
    out["speed"]["sharded"] = speed(row.run, num_steps=row.num_steps, batch=large_batch,
                                    clip_seconds=clip_seconds, reps=reps, devices=jax.devices()[:device_count])
  return out
