"""Export a sampler in one format, load it back in its runtime and check it against JAX on the same inputs."""
from __future__ import annotations

import json
import os
import time

import jax
import numpy as np

from dt_jax.export import jax_format
from dt_jax.export import onnx_format
from dt_jax.export import sampler as sampler_lib
from dt_jax.export import tf_format

FORMATS = {"jax_export": jax_format, "onnx": onnx_format, "savedmodel": tf_format}   # save(sampler, dir), load(path)
CHECK_FRAMES = (45, 151)      # two clip lengths (1.5 s, ~5 s): the export must not have fixed one


def size_bytes(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def parity(sampler: sampler_lib.Sampler, call, *, frames=CHECK_FRAMES, batch: int = 2) -> dict:
  """Max abs difference between `call` (an exported sampler) and JAX, per clip length, on the same inputs."""
  reference = jax.jit(sampler.fn)
  per_frames, scale = {}, 0.0
  for t in frames:
    audio, noise = sampler.example_inputs(frames=t, batch=batch, seed=t)
    want = np.asarray(reference(audio, noise))
    got = np.asarray(call(audio, noise))
    if got.shape != want.shape:
      raise AssertionError(f"exported sampler returned {got.shape} for {t} frames; JAX returns {want.shape}")
    per_frames[int(t)] = float(np.max(np.abs(got - want)))
    scale = max(scale, float(np.max(np.abs(want))))
  return {"max_abs_error": max(per_frames.values()), "per_frames": per_frames, "max_abs_motion": scale,
          "batch": batch}


def export(sampler: sampler_lib.Sampler, fmt: str, out_dir: str, *, frames=CHECK_FRAMES, tflite: bool = False) -> dict:
  """Saves `sampler` as `fmt` under `<out_dir>/<fmt>`, checks parity, returns what export.json records for it."""
  if fmt not in FORMATS:
    raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
  lib = FORMATS[fmt]
  start = time.perf_counter()
  folder = os.path.join(out_dir, fmt)
  path = lib.save(sampler, folder, tflite=tflite) if fmt == "savedmodel" else lib.save(sampler, folder)
  seconds = time.perf_counter() - start
  record = {"format": fmt, "path": os.path.relpath(path, out_dir), "bytes": size_bytes(path),
            "export_seconds": round(seconds, 2), "parity": parity(sampler, lib.load(path), frames=frames)}
  status = os.path.join(folder, "tflite_status.txt")
  if os.path.exists(status):
    with open(status) as f:
      record["tflite"] = f.read().strip()
  return record


def write_manifest(out_dir: str, sampler: sampler_lib.Sampler, records: list[dict], *, checkpoint: str) -> str:
  """`<out_dir>/export.json`: the signature, then one record per format (earlier formats kept)."""
  path = os.path.join(out_dir, "export.json")
  old = {}
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
  formats = {**old.get("formats", {}), **{r["format"]: r for r in records}}
  manifest = {"checkpoint": checkpoint, **sampler.describe(), "param_bytes_float32": sampler.param_bytes,
              "formats": formats}
  with open(path + ".part", "w") as f:
    json.dump(manifest, f, indent=1)
  os.replace(path + ".part", path)
  return path


def table(records: list[dict]) -> str:
  lines = ["| format | size (MB) | max abs error vs JAX | max abs motion | clip lengths (frames) |",
           "|---|---|---|---|---|"]
  for r in records:
    p = r["parity"]
    lines.append(f"| {r['format']} | {r['bytes'] / 1e6:.2f} | {p['max_abs_error']:.2e} | {p['max_abs_motion']:.3f} | "
                 f"{', '.join(str(t) for t in p['per_frames'])} |")
  return "\n".join(lines)
