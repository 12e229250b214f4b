"""The benchmark's streaming row: one model streamed over a test clip in 40 ms chunks at several lookaheads, as
fast as it goes. Latency of a chunk that yields frames = lookahead + its compute; the real-time factor is compute
over audio duration (batch 1); and the streamed motion's LVE against the offline animation of the same clip (0
when the lookahead covers the clip, growing as it shrinks)."""
from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np

from dt_jax import timebase
from dt_jax.eval import metrics
from dt_jax.inference import animator
from dt_jax.inference import stream


def _lve(ds, a: np.ndarray, b: np.ndarray, speaker: int) -> float:
  """LVE (paper units) of motion a against b, on the rig's vertices (coefficients where there is no rig)."""
  space = metrics.space_for(ds.rig, motion_dim=ds.motion_dim)
  if space.name == "coefficients":
    pa, pb = metrics.coefficient_points(jnp.asarray(a)), metrics.coefficient_points(jnp.asarray(b))
  else:
    pa, pb = jnp.asarray(ds.rig.vertices(a, speaker)), jnp.asarray(ds.rig.vertices(b, speaker))
  return float(jnp.mean(metrics.max_sq_error(pa, pb, idx=space.regions.lips))) / metrics.PAPER_SCALES["lve"]


def measure(run, *, example: dict, lookaheads=(0.08, 0.2, 0.5), chunk_ms: float = 40.0,
            window_seconds: float = 4.0) -> dict:
  """{'chunk_ms', 'clip_seconds', 'lookahead_<ms>': {'latency_ms_p50', 'latency_ms_p95', 'rtf', 'lve_vs_offline'}}."""
  audio = np.asarray(example["audio"], np.float32)
  speaker = int(example["speaker"])
  offline = animator.Animator(run, window_seconds=window_seconds).animate(audio, seed=0, progress=False)
  chunk = int(round(chunk_ms / 1000 * timebase.SAMPLE_RATE))
  out = {"chunk_ms": chunk_ms, "clip_seconds": len(audio) / timebase.SAMPLE_RATE}
  warm = stream.StreamingAnimator(run, lookahead_seconds=0.0, window_seconds=window_seconds, seed=0)
  warm.push(audio[:chunk])                       # compiles the window's sampler, which every lookahead shares
  for lookahead in lookaheads:
    s = stream.StreamingAnimator(run, lookahead_seconds=lookahead, window_seconds=window_seconds, seed=0)
    pieces, latencies, compute = [], [], 0.0
    for start in range(0, len(audio), chunk):
      t0 = time.perf_counter()
      frames = s.push(audio[start:start + chunk])
      spent = time.perf_counter() - t0
      compute += spent
      if len(frames):
        latencies.append(lookahead + spent)
        pieces.append(frames)
    t0 = time.perf_counter()
    pieces.append(s.finish())
    compute += time.perf_counter() - t0
    streamed = np.concatenate(pieces)
    p50, p95 = np.percentile(latencies, [50, 95]) * 1000 if latencies else (float("nan"),) * 2
    out[f"lookahead_{int(round(lookahead * 1000))}"] = {
        "latency_ms_p50": float(p50), "latency_ms_p95": float(p95), "rtf": compute / out["clip_seconds"],
        "lve_vs_offline": _lve(run.dataset, streamed, offline, speaker)}
  return out
