"""`jax_export`: the sampler as serialized StableHLO (`jax.export`), callable with JAX alone, no dt_jax code:

  with open("sampler.jax_export", "rb") as f:
    exp = jax.export.deserialize(bytearray(f.read()))
  motion = exp.call(audio, noise)
"""
from __future__ import annotations

import os

import jax
import numpy as np

from dt_jax.export import sampler as sampler_lib

FILENAME = "sampler.jax_export"


def save(sampler: sampler_lib.Sampler, out_dir: str) -> str:
  os.makedirs(out_dir, exist_ok=True)
  exported = jax.export.export(jax.jit(sampler.fn))(*sampler.symbolic_inputs())
  path = os.path.join(out_dir, FILENAME)
  with open(path + ".part", "wb") as f:
    f.write(exported.serialize())
  os.replace(path + ".part", path)
  return path


def load(path: str):
  """(audio, noise) -> motion (numpy) from a saved export."""
  with open(path, "rb") as f:
    exported = jax.export.deserialize(bytearray(f.read()))
  return lambda audio, noise: np.asarray(exported.call(*sampler_lib.check_inputs(audio, noise)))
