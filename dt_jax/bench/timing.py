"""Timing the whole generator (audio in, motion out) on a fixed clip: frames per second of one model, and the
speed ratio of two models timed interleaved (A, B, A, B, ... in one process on the same inputs), whose median and
spread over the pairs say how stable a speed-up is on a shared, noisy machine."""
from __future__ import annotations

import time
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dt_jax import timebase
from dt_jax.runs import loading
from dt_jax.runs import sampling


def generator(run: loading.Run, *, num_steps: int, batch: int, clip_seconds: float,
              devices=None) -> tuple[Callable[[], Any], float, int]:
  """(call, compile seconds, frames): `call()` generates `batch` clips of `clip_seconds` and blocks until done.
  `devices`: shard the batch over these devices (a `data` mesh axis) instead of running on the default one."""
  fn = sampling.sample_fn(run.model, num_steps=num_steps, stats=run.stats, sampler=run.sampler,
                          guidance=run.guidance, data_range=run.data_range)
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
  call = lambda: compiled(*args).block_until_ready()
  call()                                                     # warm-up
  return call, compile_s, frames


class Generators:
  """Compiled generators (`generator`'s triples) by (run, steps, batch, devices), each built once: a row's frames per
  second and its interleaved speed-up over the teacher time the same compiled call, with no second compile."""

  def __init__(self, *, clip_seconds: float):
    self.clip_seconds = clip_seconds
    self._built: dict[tuple, tuple[loading.Run, tuple[Callable[[], Any], float, int]]] = {}

  def get(self, run: loading.Run, *, num_steps: int, batch: int, devices=None):
    key = (id(run), num_steps, batch, None if devices is None else tuple(d.id for d in devices))
    if key not in self._built:    # the run is kept with its call, so its id is not reused while cached
      self._built[key] = (run, generator(run, num_steps=num_steps, batch=batch, clip_seconds=self.clip_seconds,
                                         devices=devices))
    return self._built[key][1]


def _seconds(call, clock=time.perf_counter) -> float:
  t0 = clock()
  call()
  return clock() - t0


def speed(run: loading.Run, *, num_steps: int, batch: int, clip_seconds: float, reps: int,
          devices=None, generators: Generators | None = None) -> dict[str, Any]:
  """Frames per second of one model (median of `reps` calls after a warm-up); compile time apart. `generators`:
  take the compiled call from (and leave it in) this cache."""
  if generators is not None and generators.clip_seconds != clip_seconds:
    raise ValueError(f"generators time {generators.clip_seconds} s clips, not {clip_seconds} s")
  generators = generators or Generators(clip_seconds=clip_seconds)
  call, compile_s, frames = generators.get(run, num_steps=num_steps, batch=batch, devices=devices)
  seconds = float(np.median([_seconds(call) for _ in range(reps)]))
  return {"batch": batch, "frames": frames, "clip_seconds": clip_seconds, "compile_s": compile_s,
          "seconds": seconds, "fps": batch * frames / seconds, "reps": reps,
          "devices": 1 if devices is None else len(devices)}


def interleaved(call_a, call_b, *, pairs: int, clock=time.perf_counter) -> dict[str, Any]:
  """Times A and B `pairs` times in turn; the ratio of each pair (A's seconds over B's: how many times faster B
  is) summarised by its median and quartiles, so a slow moment of the machine hits both sides of a pair."""
  ratios = []
  for k in range(pairs):
    first, second = (call_a, call_b) if k % 2 == 0 else (call_b, call_a)     # alternate which goes first
    t1, t2 = _seconds(first, clock), _seconds(second, clock)
    ta, tb = (t1, t2) if k % 2 == 0 else (t2, t1)
    ratios.append(ta / tb)
  q25, median, q75 = np.percentile(ratios, [25, 50, 75])
  return {"median": float(median), "q25": float(q25), "q75": float(q75), "min": float(np.min(ratios)),
          "max": float(np.max(ratios)), "pairs": pairs}
